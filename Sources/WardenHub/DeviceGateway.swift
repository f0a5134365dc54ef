import Foundation
import NIOCore
public import WardenBroker
public import WardenCore
import WardenMQTT
import WardenSecurity

/// A device as a request proved it (the broker's `DeviceSender`, named here for the API, which does not see
/// the broker).
public typealias AuthenticatedDevice = DeviceSender

/// The hub as the HTTPS device API sees it (anchors.md §1.4): authenticate a request like a CONNECT, send
/// telemetry as if published (acknowledged after the commit), and reach the device's cloud-to-device queue.
public struct DeviceGateway: Sendable {
    let authenticator: ConnectAuthenticator
    let broker: Broker
    let persistence: BrokerPersistence
    let events: EventBus
    let clock: any WardenClock
    public let cloudToDevice: CloudToDeviceService

    public init(
        authenticator: ConnectAuthenticator, broker: Broker, persistence: BrokerPersistence,
        cloudToDevice: CloudToDeviceService, events: EventBus, clock: any WardenClock
    ) {
        self.authenticator = authenticator
        self.broker = broker
        self.persistence = persistence
        self.cloudToDevice = cloudToDevice
        self.events = events
        self.clock = clock
    }

    /// The device a request proves it is: a SAS token in `authorization`, else the TLS client certificate chain
    /// the connection presented (the request's `hostName` naming the tenant). Every outcome is an
    /// `AuthenticationRecord`. A refusal is `auth.invalid_credential` (401) or `auth.forbidden` (403) with the
    /// record's reference id, never the reason, as on MQTT.
    public func authenticate(
        authorization: String?, certificates: [[UInt8]], hostName: String, deviceID: String, peer: IPAddress
    ) async throws(WardenError) -> DeviceSender {
        let referenceID = ReferenceID.make()
        let claimed = try? DeviceID(deviceID)
        let now = clock.now()
        var refusal: ConnectAuthenticator.Refusal?
        var identity: ConnectAuthenticator.DeviceIdentity?
        if let claimed {
            do throws(ConnectAuthenticator.Refusal) {
                if authorization != nil || certificates.isEmpty {
                    let facts = ConnectAuthenticator.ConnectionFacts(
                        peerAddress: peer, now: now.unixSeconds)
                    identity = try authenticator.authenticate(authorization: authorization, deviceID: claimed, facts)
                } else {
                    identity = try await authenticator.authenticate(
                        certificateChain: certificates, hostName: hostName, deviceID: claimed, peerAddress: peer,
                        now: now)
                }
            } catch {
                refusal = error
            }
        }
        let sender = identity?.sender
        let method: AuthenticationRecord.Method =
            switch identity?.method {
            case .sas: .sas
            case .x509Thumbprint: .x509Thumbprint
            case .x509CA: .x509CA
            case nil: authorization != nil ? .sas : certificates.isEmpty ? .none : .x509Thumbprint
            }
        events.publish(
            .authentication(
                AuthenticationRecord(
                    tenantID: sender?.tenantID, principal: deviceID, peerAddress: peer, protocolName: "https",
                    method: method, isAccepted: sender != nil,
                    failure: sender == nil ? refusal?.reason.code ?? .deviceInvalidID : nil,
                    certificateThumbprint: certificates.first.flatMap { Thumbprint.of(certificate: $0).last },
                    referenceID: referenceID, at: now)))
        if let sender { return sender }
        if refusal?.isCredentialFailure == false {
            throw WardenError(.authForbidden, "The device may not connect (reference \(referenceID)).")
        }
        throw WardenError(
            .authInvalidCredential, "The SAS token is not valid for this device (reference \(referenceID)).")
    }

    /// HTTPS receive: the oldest Enqueued message, locked, with its lock token; nil when none waits.
    public func receive(for device: DeviceSender, lockSeconds: Int64?) -> (
        message: CloudToDeviceMessage, lockToken: String
    )? {
        cloudToDevice.receive(device.tenantID, device.deviceID, lockSeconds: lockSeconds)
    }

    /// HTTPS complete, reject or abandon; returns once committed.
    public func settle(for device: DeviceSender, lockToken: String, _ settlement: CloudToDeviceSettlement) async throws
    {
        try await cloudToDevice.settle(device.tenantID, device.deviceID, lockToken: lockToken, settlement)
    }

    /// Telemetry over HTTPS: stored and routed as if published on `devices/{id}/messages/events/{bag}`; returns
    /// once committed.
    public func sendTelemetry(from sender: DeviceSender, properties: [PropertyBag.Property], body: [UInt8]) async throws
    {
        let topic = "devices/\(sender.deviceID.rawValue)/messages/events/" + PropertyBag(properties).text
        let message = BrokerMessage(
            topic: topic, payload: ByteBuffer(bytes: body), qos: .atLeastOnce, retain: false,
            properties: Properties(), receivedAt: .now())
        let (refusal, ticket) = broker.publishOnBehalf(of: sender, message)
        if let refusal { throw WardenError(.requestInvalidField, "The message was refused: \(refusal).") }
        if let ticket { await persistence.committed(ticket) }
    }
}
