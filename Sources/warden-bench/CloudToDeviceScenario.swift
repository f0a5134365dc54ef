import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization
import WardenMQTT

/// Cloud-to-device throughput: devices connect and subscribe to their devicebound topics; API clients send
/// messages through the management API (each 201 means committed) round robin over the devices; every
/// delivery is acknowledged (the PUBACK completes it). Reports accepted sends per second with their latency,
/// and deliveries per second with the latency from send to arrival.
struct CloudToDeviceScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "c2d", abstract: "API clients send cloud-to-device messages; devices receive them over MQTT.")

    @OptionGroup var connection: DeviceOptions
    @Option(help: "The management API's base URL.") var api = "https://localhost:8443"
    @Option(help: "A bearer credential with devices.control.") var token: String
    @Option(help: "The devices' tenant.") var tenant = "default"
    @Option(help: "Messages to send in all.") var messages = 10_000
    @Option(help: "API requests in flight at once.") var concurrency = 64

    func validate() throws {
        try OptionBounds.check(messages, 1...1_000_000_000, "messages")
        try OptionBounds.check(concurrency, 1...10_000, "concurrency")
    }

    func run() async throws {
        let deliveries = Recorder(countFrom: .now())
        let sends = Recorder(countFrom: .now())
        var subscribed: [EventLoopFuture<Void>] = []
        for index in 0..<connection.devices {
            let connect = try connection.connectPacket(index)
            let receiver = Subscriber(
                connect: connect, filter: "devices/\(connect.clientID)/messages/devicebound/#", qos: .atLeastOnce,
                recorder: deliveries
            ) { payload in UInt64(String(buffer: payload)) }  // total: parses text: nil unless a number.
            let channel = try await connection.connect(index, receiver)
            subscribed.append(try receiver.subscribed(on: channel))
        }
        for future in subscribed { try await future.get() }

        let http = try CloudToDeviceSend.client(trusting: connection.ca)
        let next = Tickets()
        let start = NIODeadline.now()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let index = next.take()
                        guard index < messages else { return }
                        try await send(index, http: http, recorder: sends)
                    }
                }
            }
            try await group.waitForAll()
        }
        let sent = Double((NIODeadline.now() - start).nanoseconds) / 1e9
        while deliveries.count < messages, NIODeadline.now() - start < .seconds(300) {
            try await Task.sleep(for: .milliseconds(10))
        }
        let delivered = Double((NIODeadline.now() - start).nanoseconds) / 1e9
        try await http.shutdown()
        let accepted = sends.summary(seconds: sent)
        let arrived = deliveries.summary(seconds: delivered)
        print(
            String(
                format: "%d messages to %d devices, %d API requests in flight: %.0f sends/s accepted "
                    + "(latency p50 %.2f ms, p99 %.2f ms), %.0f deliveries/s completed over MQTT (send to arrival "
                    + "p50 %.2f ms, p99 %.2f ms); %@",
                messages, connection.devices, concurrency, accepted.messagesPerSecond, accepted.p50Milliseconds,
                accepted.p99Milliseconds, arrived.messagesPerSecond, arrived.p50Milliseconds, arrived.p99Milliseconds,
                Recorder.Summary.describe(accepted, arrived)))
        if accepted.errors + arrived.errors > 0 || arrived.count < messages { throw ExitCode.failure }
    }

    /// Sends message `index`, retrying while the device's queue is full (the device is still taking earlier ones).
    private func send(_ index: Int, http: HTTPClient, recorder: Recorder) async throws {
        let device = connection.deviceID(index % connection.devices)
        let sentAt = NIODeadline.now()
        let request = CloudToDeviceSend(api: api, tenant: tenant, token: token).request(to: device)
        while true {
            let response = try await http.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            switch response.status.code {
            case 201: return recorder.record(since: sentAt)
            case 429: try await Task.sleep(for: .milliseconds(2))
            default:
                recorder.error("HTTP \(response.status.code)")
                return
            }
        }
    }
}

/// Hands out 0, 1, 2, … to concurrent senders.
final class Tickets: Sendable {
    private let next = Atomic(0)

    func take() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}
