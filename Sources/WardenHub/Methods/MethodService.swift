import Foundation
import NIOCore
import Synchronization
import WardenAzure
public import WardenBroker
public import WardenCore
import WardenMQTT

/// Direct methods (anchors.md §1.3): the API invokes a method on a connected device with a JSON payload; the
/// request goes to `$iothub/methods/POST/{name}/?$rid={id}`, and the device's PUBLISH on
/// `$iothub/methods/res/{status}/?$rid={id}` answers it. A device that is not connected (or not subscribed to
/// `$iothub/methods/POST/#`) is `method.device_offline` (404); no answer within the timeout is
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
    private let pending = Mutex<[String: Pending]>([:])
    private let nextID = Atomic<UInt64>(0)
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
        let requestID = String(nextID.wrappingAdd(1, ordering: .relaxed).newValue, radix: 16)
        let request = BrokerMessage(
            hubTopic: AzureTopic.methodRequest(name: name, requestID: requestID).name,
            payload: ByteBuffer(bytes: payload),
            properties: Properties()
        ) {}
        return try await withCheckedThrowingContinuation { continuation in
            pending.withLock {
                $0[requestID] = Pending(tenantID: tenantID, deviceID: deviceID, continuation: continuation)
            }
            guard broker.deliver(request, toDevice: deviceID, in: tenantID) else {
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

    /// A device's answer on `$iothub/methods/res/{status}/?$rid={id}`. An answer to nothing pending (late, or
    /// for another device) is dropped.
    func answered(_ status: Int?, _ requestID: String, _ message: BrokerMessage, from sender: DeviceSender)
        -> DeviceTrafficOutcome
    {
        let answered = pending.withLock { pending -> Pending? in
            guard let waiting = pending[requestID], waiting.tenantID == sender.tenantID,
                waiting.deviceID == sender.deviceID
            else { return nil }
            pending[requestID] = nil
            return waiting
        }
        if let answered, let status {
            answered.continuation.resume(
                returning: Response(status: status, payload: Array(message.payload.readableBytesView)))
        } else if let answered {
            answered.continuation.resume(
                throwing: WardenError(
                    .methodInvalidResponse, "The device answered on '\(message.topic)' without a status."))
        }
        return DeviceTrafficOutcome(route: nil)
    }

    private func take(_ requestID: String) -> CheckedContinuation<Response, any Error>? {
        pending.withLock { $0.removeValue(forKey: requestID) }?.continuation
    }
}

/// Where direct methods go for devices connected to another node (WardenCluster installs one).
public protocol MethodRelay: Sendable {
    /// The device's answer through the node it is connected to; nil when no node has it.
    func invoke(_ name: String, payload: [UInt8], on deviceID: DeviceID, in tenantID: TenantID, timeout: Duration)
        async throws -> MethodService.Response?
}
