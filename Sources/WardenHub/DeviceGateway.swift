import Foundation
import NIOCore
public import WardenAuthentication
public import WardenAzure
public import WardenBroker
public import WardenCore
import WardenMQTT
public import WardenPolicy

/// A device as a request proved it (the broker's `DeviceSender`, named here for the API, which does not see
/// the broker).
public typealias AuthenticatedDevice = DeviceSender

/// The hub as the HTTPS device API sees it (anchors.md §1.4): authenticate a request like a CONNECT, send
/// telemetry as if published (acknowledged after the commit), and reach the device's cloud-to-device queue.
/// The policy decides each request as it decides MQTT: `connect` for every request, `publish` on the telemetry
/// topic, `receive` on the device's cloud-to-device topic; the protocol is `https`.
public struct DeviceGateway: Sendable {
    let authenticator: DeviceAuthenticator
    let authorizer: any Authorizer
    let broker: Broker
    let persistence: BrokerPersistence
    let events: EventBus
    let clock: any WardenClock
    public let cloudToDevice: CloudToDeviceService
    /// The Defender, told what devices send (their behaviour baselines).
    let observer: (any ConnectionObserver)?
    /// The protocol the records and the policy name: `https`, or `amqp` (`speaking(_:)`).
    public private(set) var protocolName = "https"

    public init(
        authenticator: DeviceAuthenticator, authorizer: any Authorizer, broker: Broker, persistence: BrokerPersistence,
        cloudToDevice: CloudToDeviceService, events: EventBus, observer: (any ConnectionObserver)? = nil,
        clock: any WardenClock
    ) {
        self.observer = observer
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.broker = broker
        self.persistence = persistence
        self.cloudToDevice = cloudToDevice
        self.events = events
        self.clock = clock
    }

    /// The same gateway for devices arriving by another protocol (AMQP): records and policy contexts name it.
    public func speaking(_ protocolName: String) -> DeviceGateway {
        var gateway = self
        gateway.protocolName = protocolName
        return gateway
    }

    /// Why a device that authenticated earlier may no longer be connected (deleted, disabled, blocked, filtered
    /// out), or nil: what a live connection is checked against when the registry changes.
    public func revocation(of identity: DeviceIdentity, peerAddress: IPAddress) -> WardenError? {
        authenticator.revocation(of: identity, peerAddress: peerAddress)
    }

    /// The client certificate a TLS connection presented (DER, leaf first) with its chain validated against the
    /// tenants' CAs, as a CONNECT's; nil when none was presented.
    public func certificate(_ certificates: [[UInt8]]) async -> DeviceCredentials.Certificate? {
        guard let leaf = certificates.first else { return nil }
        return DeviceCredentials.Certificate(
            leaf: leaf, chain: await authenticator.validateChain(certificates, now: clock.now()))
    }

    /// The device a request proves it is: a SAS token in `authorization` (its audience naming the tenant), else
    /// the TLS client certificate chain the connection presented (the request's `hostName` naming the tenant).
    /// Every outcome is an `AuthenticationRecord`. A refusal is `auth.invalid_credential` (401) or
    /// `auth.forbidden` (403) with the record's reference id, never the reason, as on MQTT.
    public func authenticate(
        authorization: String?, certificates: [[UInt8]], hostName: String, deviceID: String, peer: IPAddress
    ) async throws(WardenError) -> DeviceSender {
        try await identify(
            authorization: authorization, certificates: certificates, hostName: hostName, deviceID: deviceID,
            peer: peer
        ).sender
    }

    /// `authenticate`, with the identity's SAS token expiry (an AMQP link's authority ends with its token).
    public func identify(
        authorization: String?, certificates: [[UInt8]], hostName: String, deviceID: String, peer: IPAddress
    ) async throws(WardenError) -> DeviceIdentity {
        let now = clock.now()
        let claim: DeviceCredentials.Claim
        do throws(WardenError) {
            claim = .device(try DeviceID(deviceID))
        } catch {
            claim = .unrecognized(deviceID, reason: error)
        }
        var certificate: DeviceCredentials.Certificate?
        if authorization == nil, let leaf = certificates.first {
            certificate = DeviceCredentials.Certificate(
                leaf: leaf, chain: await authenticator.validateChain(certificates, now: now))
        }
        let credentials = DeviceCredentials(
            hostName: certificate == nil ? nil : hostName, claim: claim, sasToken: authorization.map { Array($0.utf8) },
            certificate: certificate, peerAddress: peer, now: now.unixSeconds)
        let outcome: AuthenticationOutcome
        do throws(AuthenticationRefusal) {
            outcome = .accepted(try authenticator.authenticate(credentials))
        } catch {
            outcome = .refused(error)
        }
        let referenceID = ReferenceID.make()
        events.publish(
            .authentication(
                authenticator.record(
                    credentials, outcome, protocolName: protocolName, referenceID: referenceID, at: now)))
        switch outcome {
        case .accepted(.device(let device)):
            try authorize(.connect(.device(device.deviceID), in: device.tenantID), peer: peer)
            return device
        case .refused(let refusal) where !refusal.isCredentialFailure:
            throw WardenError(.authForbidden, "The device may not connect (reference \(referenceID)).")
        default:
            throw WardenError(
                .authInvalidCredential, "The SAS token is not valid for this device (reference \(referenceID)).")
        }
    }

    /// HTTPS receive: the oldest Enqueued message, locked, with its lock token; nil when none waits.
    public func receive(for device: DeviceSender, lockSeconds: Int64?, peer: IPAddress) async throws(WardenError) -> (
        message: CloudToDeviceMessage, lockToken: String
    )? {
        try authorizeCloudToDevice(for: device, peer: peer)
        return await cloudToDevice.receive(device.tenantID, device.deviceID, lockSeconds: lockSeconds)
    }

    /// Refuses unless the policy lets the device receive its cloud-to-device messages (`receive` on its
    /// cloud-to-device topic), as an MQTT device's SUBSCRIBE is decided.
    public func authorizeCloudToDevice(for device: DeviceSender, peer: IPAddress) throws(WardenError) {
        try authorizeReceiving(AzureTopic.cloudToDevice(device.deviceID, propertyBag: "").name, for: device, peer: peer)
    }

    /// Refuses unless the policy lets the device hear its twin: answers to its requests and desired-property
    /// patches (`receive` on both topics, as the SDKs subscribe to them; the second's hub action is
    /// `twin.read`).
    public func authorizeTwin(for device: DeviceSender, peer: IPAddress) throws(WardenError) {
        try authorizeReceiving(AzureTopic.twinResponsePrefix + "#", for: device, peer: peer)
        try authorizeReceiving(AzureTopic.desiredPrefix + "#", for: device, peer: peer)
    }

    /// Refuses unless the policy lets the device take direct method calls (`receive` on the topic they come on
    /// over MQTT, whose hub action is `method.respond`).
    public func authorizeMethods(for device: DeviceSender, peer: IPAddress) throws(WardenError) {
        try authorizeReceiving(AzureTopic.methodRequestPrefix + "#", for: device, peer: peer)
    }

    /// Refuses unless the policy lets the device receive a message on `topic` (with the hub action it stands
    /// for), as an MQTT delivery to it is decided.
    public func authorizeReceiving(_ topic: String, for device: DeviceSender, peer: IPAddress) throws(WardenError) {
        try authorize(
            AuthorizationRequest(
                tenantID: device.tenantID, subject: .device(device.deviceID), action: .receive, resource: .topic(topic)),
            peer: peer)
    }

    /// HTTPS complete, reject or abandon; returns once committed.
    public func settle(for device: DeviceSender, lockToken: String, _ settlement: CloudToDeviceSettlement) async throws
    {
        try await cloudToDevice.settle(device.tenantID, device.deviceID, lockToken: lockToken, settlement)
        settled(by: device, settlement)
    }

    /// A link's complete, reject or abandon of a message it holds (`CloudToDeviceService.attach`), applied at
    /// once; returns the commit ticket to wait for (`committed`).
    public func settle(
        for device: DeviceSender, sequence: Int64, link: UInt64, _ settlement: CloudToDeviceSettlement
    ) throws(WardenError) -> UInt64 {
        let ticket = try cloudToDevice.settle(
            device.tenantID, device.deviceID, sequence: sequence, link: link, settlement)
        settled(by: device, settlement)
        return ticket
    }

    /// The Defender counts a device turning its commands down.
    private func settled(by device: DeviceSender, _ settlement: CloudToDeviceSettlement) {
        if settlement != .complete {
            events.publish(.cloudToDeviceRefused(device.tenantID, device.deviceID, rejected: settlement == .reject))
        }
    }

    /// Telemetry over HTTPS: stored and routed as if published on `devices/{id}/messages/events/{bag}`; returns
    /// once committed.
    public func sendTelemetry(
        from sender: DeviceSender, properties: [PropertyBag.Property], body: [UInt8], peer: IPAddress
    ) async throws {
        if let ticket = try submitTelemetry(from: sender, properties: properties, body: body, peer: peer) {
            await persistence.committed(ticket)
        }
    }

    /// `sendTelemetry`'s first half, which puts the message in the hub's order at once: a protocol whose
    /// messages come in order on a connection (an AMQP link) submits them as they come and waits for each
    /// commit apart (`whenCommitted`). Returns the commit ticket to wait for, if any.
    public func submitTelemetry(
        from sender: DeviceSender, properties: [PropertyBag.Property], body: [UInt8], peer: IPAddress
    ) throws -> UInt64? {
        let topic = AzureTopic.telemetry(sender.deviceID, propertyBag: PropertyBag(properties).text).name
        observer?.deviceSent(sender.deviceID, in: sender.tenantID, topic: topic, bytes: body.count)
        return try submit(topic, from: sender, body: body, peer: peer)
    }

    /// A device's request to the hub on another protocol (`.twinGet`, `.twinReportedPatch`, `.methodResponse`),
    /// decided and handled as if published on its MQTT topic (a twin's answer goes to the device's `TwinLink`).
    /// Returns the commit ticket of what it changed, if anything.
    public func submitRequest(
        _ request: AzureTopic, from sender: DeviceSender, body: [UInt8], peer: IPAddress
    ) throws -> UInt64? {
        try submit(request.name, from: sender, body: body, peer: peer)
    }

    /// Publishes on the device's behalf once the policy allows it (the hub takes what is its own).
    private func submit(_ topic: String, from sender: DeviceSender, body: [UInt8], peer: IPAddress) throws -> UInt64? {
        try authorize(
            .device(sender.deviceID, in: sender.tenantID, .topic(topic)), peer: peer, payloadSize: body.count)
        let message = BrokerMessage(
            topic: topic, payload: ByteBuffer(bytes: body), qos: .atLeastOnce, retain: false,
            properties: Properties(), receivedAt: .now())
        let (refusal, ticket) = broker.publishOnBehalf(of: sender, message)
        if let refusal { throw WardenError(.requestInvalidField, "The message was refused: \(refusal).") }
        return ticket
    }

    /// Calls `body` once what `ticket` stands for is committed (at once if it is), on the store writer's thread.
    public func whenCommitted(_ ticket: UInt64, _ body: @escaping @Sendable () -> Void) {
        persistence.whenCommitted(ticket, body)
    }

    /// Refuses `request` unless the policy allows it: 403 `auth.forbidden` with the reference id, and an
    /// authorization-denied record, as MQTT refuses.
    private func authorize(
        _ request: AuthorizationRequest, peer: IPAddress, payloadSize: Int? = nil
    ) throws(WardenError) {
        var context = PolicyContext(peerAddress: peer, protocolName: protocolName)
        context.payloadSize = payloadSize
        // The listeners' TLS (Hummingbird's, the AMQP endpoint's) is not shown here: no version or certificate.
        context.certificateIsKnown = false
        let seen = request.seen(in: context)
        let decision = authorizer.decide(seen)
        guard !decision.isAllowed else { return }
        events.publish(.authorizationDenied(seen.denial(decision, principal: seen.principal, at: clock.now())))
        throw WardenError(.authForbidden, "Not authorized (reference \(decision.referenceID)).")
    }
}
