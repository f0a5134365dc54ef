import Foundation
import NIOCore
import Synchronization
import Testing
import WardenCore
import WardenMQTT

@testable import WardenBroker
@testable import WardenHub

/// Direct methods: the request reaches the subscribed device, its answer (and only its own) completes the call.
struct MethodServiceTests {
    let hub: HubFixture
    let methods: MethodService
    let device: DeviceID

    init() throws {
        hub = try HubFixture()
        methods = MethodService(broker: hub.broker)
        device = try DeviceID("valve-1")
    }

    /// The request the device received, once it has.
    private func request(on connection: DeviceConnection) async throws -> PublishPacket {
        for _ in 0..<500 {
            if let request = connection.publishes.first { return request }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw WardenError(.methodTimeout, "no request reached the device")
    }

    @Test func badNamesLargePayloadsAndOfflineDevicesAreRefusedAtOnce() async throws {
        let invoke = { (name: String, payload: [UInt8]) in
            _ = try await methods.invoke(name, payload: payload, on: device, in: hub.tenant, timeout: .seconds(30))
        }
        for name in ["", "a/b", "#", "x?y", String(repeating: "m", count: 129)] {
            #expect(await errorCode { try await invoke(name, []) } == .methodInvalidName)
        }
        #expect(
            await errorCode { try await invoke("reboot", Array(repeating: 0, count: 128 * 1024 + 1)) }
                == .methodPayloadTooLarge)
        #expect(await errorCode { try await invoke("reboot", []) } == .methodDeviceOffline)
        _ = try hub.connect(device, subscribedTo: ["$iothub/twin/res/#"])
        #expect(await errorCode { try await invoke("reboot", []) } == .methodDeviceOffline)
    }

    @Test func theDevicesAnswerCompletesTheCallAndAnotherDevicesDoesNot() async throws {
        let connection = try hub.connect(device, subscribedTo: ["$iothub/methods/POST/#"])
        let call = Task {
            try await methods.invoke(
                "reboot", payload: Array(#"{"delay":5}"#.utf8), on: device, in: hub.tenant, timeout: .seconds(30))
        }
        let request = try await request(on: connection)
        #expect(request.topic.hasPrefix("$iothub/methods/POST/reboot/?$rid="))
        #expect(String(buffer: request.payload) == #"{"delay":5}"#)
        let rid = try #require(request.topic.split(separator: "=").last)
        let intruder = hub.sender(try DeviceID("valve-2"))
        _ = methods.received(hub.message("$iothub/methods/res/500/?$rid=\(rid)", "no"), from: intruder)
        _ = methods.received(hub.message("$iothub/methods/res/200/?$rid=\(rid)", "done"), from: hub.sender(device))
        let response = try await call.value
        #expect(response.status == 200 && response.payload == Array("done".utf8))
    }

    @Test func noAnswerInTimeIsATimeoutAndALateAnswerIsDropped() async throws {
        let connection = try hub.connect(device, subscribedTo: ["$iothub/methods/POST/#"])
        #expect(
            await errorCode {
                _ = try await methods.invoke(
                    "slow", payload: [], on: device, in: hub.tenant, timeout: .milliseconds(50))
            } == .methodTimeout)
        let rid = try #require(try await request(on: connection).topic.split(separator: "=").last)
        let late = methods.received(hub.message("$iothub/methods/res/200/?$rid=\(rid)"), from: hub.sender(device))
        #expect(late?.route == nil)
    }
}

/// A method link (an AMQP device's) gets the calls; only the device's own link can fail one.
struct MethodLinkTests {
    @Test func aLinkGetsTheCallAndOnlyItsDeviceCanFailIt() async throws {
        let hub = try HubFixture()
        let methods = MethodService(broker: hub.broker)
        let device = try DeviceID("valve-1")
        let link = RecordingMethodLink()
        _ = methods.attach(link, tenantID: hub.tenant, deviceID: device)
        let invoke = {
            Task { try await methods.invoke("open", payload: [], on: device, in: hub.tenant, timeout: .seconds(30)) }
        }
        let answered = invoke()
        let first = try await link.request(0)
        // Another device failing the call (a guessed id) changes nothing: the device's answer completes it.
        methods.undeliverable(first, of: hub.sender(try DeviceID("valve-2")), reason: "guessing")
        _ = methods.received(
            hub.message("$iothub/methods/res/200/?$rid=\(String(first, radix: 16))", "done"), from: hub.sender(device))
        #expect(try await answered.value.status == 200)
        // The device's own link failing it ends it at once.
        let failed = invoke()
        methods.undeliverable(try await link.request(1), of: hub.sender(device), reason: "The link closed.")
        #expect(await errorCode { _ = try await failed.value } == .methodDeviceOffline)
    }
}

/// A method link that records the calls it is handed.
final class RecordingMethodLink: MethodLink {
    private let recorded = Mutex<[UInt64]>([])

    /// The request id of the `index`th call, once it arrived.
    func request(_ index: Int) async throws -> UInt64 {
        for _ in 0..<500 {
            if let id = recorded.withLock({ $0.count > index ? $0[index] : nil }) { return id }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw WardenError(.methodTimeout, "no call reached the link")
    }

    func request(_ name: String, payload: [UInt8], requestID: UInt64) {
        recorded.withLock { $0.append(requestID) }
    }

    func superseded() {}
}
