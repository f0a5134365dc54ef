import Foundation
import NIOCore
import Synchronization
import WardenAzure
public import WardenBroker
public import WardenCore
import WardenMQTT

/// Direct methods (anchors.md §1.3): the API invokes a method on a connected device with a JSON payload; the
/// request goes to `$iothub/methods/POST/{name}/?$rid={id}`, and the device's PUBLISH on
/// `$iothub/methods/res/{status}/?$rid={id}` answers it; a device with a method link of another protocol
/// (AMQP's, `MethodLink`) gets it there and answers as if on that topic. A device that is not connected (or not
/// subscribed to `$iothub/methods/POST/#`) is `method.device_offline` (404); no answer within the timeout is
/// `method.timeout` (504).
public final class MethodService: Sendable {
    /// IoT Hub's limit for a request or response payload.
    public static let maximumPayloadBytes = 128 * 1024

    /// A device's answer.
    public struct Response: Sendable {
        public let status: Int
        public let payload: [UInt8]

        public init(status: Int, payload: [UInt8]) {
            self.status = status
            self.payload = payload
        }
    }

    private struct Pending {
        let tenantID: TenantID
        let deviceID: DeviceID
        let continuation: CheckedContinuation<Response, any Error>
    }

    let broker: Broker
    private let pending = Mutex<[UInt64: Pending]>([:])
    private let nextID = Atomic<UInt64>(0)
    /// Each device's method link of another protocol.
    private let links = DeviceLinks<any MethodLink> { $0.superseded() }
    /// Where a call goes when the device is not connected here (another node of a cluster).
    private let relay = Mutex<(any MethodRelay)?>(nil)

    public init(broker: Broker) {
        self.broker = broker
    }

    /// Sends calls for devices not connected here to `relay`.
    public func install(relay: any MethodRelay) {
        self.relay.withLock { $0 = relay }
    }

    /// Invokes `name` on the device, here or through the relay (the node it is connected to), and waits up to
    /// `timeout` for its answer.
    public func invoke(
        _ name: String, payload: [UInt8], on deviceID: DeviceID, in tenantID: TenantID, timeout: Duration
    ) async throws -> Response {
        do {
            return try await invokeHere(name, payload: payload, on: deviceID, in: tenantID, timeout: timeout)
        } catch let error as WardenError where error.code == .methodDeviceOffline {
            guard let relay = relay.withLock({ $0 }),
                let answer = try await relay.invoke(
                    name, payload: payload, on: deviceID, in: tenantID, timeout: timeout)
            else { throw error }
            return answer
        }
    }

    /// Invokes `name` on the device if it is connected here (`method.device_offline` otherwise).
    public func invokeHere(
        _ name: String, payload: [UInt8], on deviceID: DeviceID, in tenantID: TenantID, timeout: Duration
    ) async throws -> Response {
        guard !name.isEmpty, name.utf8.count <= 128, !name.contains(where: { "/#+?".contains($0) }) else {
            throw WardenError(.methodInvalidName, "A method name is 1 to 128 characters without '/', '#', '+' or '?'.")
        }
        guard payload.count <= Self.maximumPayloadBytes else {
            throw WardenError(.methodPayloadTooLarge, "The payload is \(payload.count) bytes; the most is 128 KiB.")
        }
        let requestID = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        let link = links.link(tenantID, deviceID)?.link
        let request = BrokerMessage(
            hubTopic: AzureTopic.methodRequest(name: name, requestID: String(requestID, radix: 16)).name,
            payload: ByteBuffer(bytes: payload),
            properties: Properties()
        ) {}
        return try await withCheckedThrowingContinuation { continuation in
            pending.withLock {
                $0[requestID] = Pending(tenantID: tenantID, deviceID: deviceID, continuation: continuation)
            }
            if let link {
                link.request(name, payload: payload, requestID: requestID)
            } else if !broker.deliver(request, toDevice: deviceID, in: tenantID) {
                take(requestID)?.resume(
                    throwing: WardenError(
                        .methodDeviceOffline,
                        "Device '\(deviceID)' is not connected, or not subscribed to '$iothub/methods/POST/#'."))
                return
            }
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                self?.take(requestID)?.resume(
                    throwing: WardenError(
                        .methodTimeout, "Device '\(deviceID)' did not answer '\(name)' within \(timeout)."))
            }
        }
    }

    /// A device's answer on `$iothub/methods/res/{status}/?$rid={id}` (over AMQP too: `DeviceGateway.submitRequest`).
    /// An answer to nothing pending (late, or for another device) is dropped.
    func answered(_ status: Int?, _ requestID: String, _ message: BrokerMessage, from sender: DeviceSender)
        -> DeviceTrafficOutcome
    {
        // total: text parsed (nil when it is not a request id).
        if let requestID = UInt64(requestID, radix: 16), let answered = take(requestID, of: sender) {
            if let status {
                answered.resume(returning: Response(status: status, payload: Array(message.payload.readableBytesView)))
            } else {
                answered.resume(
                    throwing: WardenError(
                        .methodInvalidResponse, "The device answered on '\(message.topic)' without a status."))
            }
        }
        return DeviceTrafficOutcome(route: nil)
    }

    /// Request `requestID` to `device` could not be sent (its link ended, or has as many waiting as it may):
    /// the call fails at once, as for a device that is not connected. Nothing happens to another device's.
    public func undeliverable(_ requestID: UInt64, of device: DeviceSender, reason: String) {
        take(requestID, of: device)?.resume(throwing: WardenError(.methodDeviceOffline, reason))
    }

    /// The call `requestID` waiting for `device`'s answer, taken; nil when none waits (or it is another's).
    private func take(_ requestID: UInt64, of device: DeviceSender) -> CheckedContinuation<Response, any Error>? {
        pending.withLock { pending in
            guard let waiting = pending[requestID], waiting.tenantID == device.tenantID,
                waiting.deviceID == device.deviceID
            else { return nil }
            pending[requestID] = nil
            return waiting.continuation
        }
    }

    /// Attaches a device's method link: its calls go there (rather than to an MQTT session of the device) until
    /// `detach`. A later link of the device takes an earlier one's place, which is told (`superseded`).
    /// Returns the attachment's number.
    public func attach(_ link: any MethodLink, tenantID: TenantID, deviceID: DeviceID) -> UInt64 {
        links.attach(link, tenantID, deviceID).number
    }

    /// Ends attachment `number` (unless a later link took its place). Calls it carried still wait for their
    /// answers, until their time-outs.
    public func detach(_ number: UInt64, tenantID: TenantID, deviceID: DeviceID) {
        links.detach(number, tenantID, deviceID)
    }

    private func take(_ requestID: UInt64) -> CheckedContinuation<Response, any Error>? {
        pending.withLock { $0.removeValue(forKey: requestID) }?.continuation
    }
}

/// A device's method channel on a protocol other than MQTT (AMQP's pair of method links).
public protocol MethodLink: AnyObject, Sendable {
    /// Sends the call to the device; its answer comes back as if published on its MQTT topic
    /// (`DeviceGateway.submitRequest`), or the call fails through `undeliverable`. Called on any thread.
    func request(_ name: String, payload: [UInt8], requestID: UInt64)
    /// A later link of the same device took this one's place.
    func superseded()
}

/// Where direct methods go for devices connected to another node (WardenCluster installs one).
public protocol MethodRelay: Sendable {
    /// The device's answer through the node it is connected to; nil when no node has it.
    func invoke(_ name: String, payload: [UInt8], on deviceID: DeviceID, in tenantID: TenantID, timeout: Duration)
        async throws -> MethodService.Response?
}
