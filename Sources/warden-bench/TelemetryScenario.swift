import ArgumentParser
import Foundation
import NIOCore
import WardenMQTT

/// Durable telemetry: device connections publish QoS 1 messages on their telemetry topics, each keeping a
/// window of unacknowledged messages; the PUBACKs (which Warden sends only after the commit) are counted and
/// timed.
struct TelemetryScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "telemetry", abstract: "Devices publish QoS 1 telemetry; PUBACKs counted and timed.")

    @OptionGroup var connection: DeviceOptions
    @Option(help: "Unacknowledged messages per connection.") var window = 100
    @Option(help: "Seconds of load after the warm-up.") var duration = 10
    @Option(help: "Seconds of warm-up, not counted.") var warmUp = 2
    @Option(help: "Payload bytes.") var payload = 64
    @Option(help: "QoS of each PUBLISH (0 or 1).") var qos = 1
    @Option(help: "Stop after this many messages in all (0: run for the duration).") var messages = 0
    @Flag(help: "Print the summary as JSON.") var json = false

    func validate() throws {
        try OptionBounds.check(duration: duration, warmUp: warmUp, window: window, payload: payload, qos: 0...1, qos)
        try OptionBounds.check(messages, 0...1_000_000_000, "messages")
    }

    func run() async throws {
        // total: validate() bounds --warm-up and --duration.
        let recorder = Recorder(countFrom: .now() + .seconds(Int64(warmUp)))
        // total: validate() bounds --warm-up and --duration.
        let stopAt = NIODeadline.now() + .seconds(Int64(warmUp + duration))
        let perConnection = messages > 0 ? max(1, messages / connection.devices) : Int.max
        var channels: [any Channel] = []
        for index in 0..<connection.devices {
            let connect = try connection.connectPacket(index)
            let publisher = Publisher(
                connect: connect, topic: "devices/\(connect.clientID)/messages/events/", payloadSize: payload,
                qos: qos == 0 ? .atMostOnce : .atLeastOnce, window: window, limit: perConnection, stopAt: stopAt,
                recorder: recorder)
            channels.append(try await connection.connect(index, publisher))
        }
        for channel in channels { try? await channel.closeFuture.get() }
        let summary = recorder.summary(seconds: Double(duration))
        if json {
            print(String(decoding: try JSONEncoder().encode(summary), as: UTF8.self))
        } else {
            print(
                String(
                    format: "%d devices, window %d, QoS %d, %d-byte payload: %.0f msg/s acknowledged (%d in %ds), "
                        + "PUBACK latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms; %@",
                    connection.devices, window, qos, payload, summary.messagesPerSecond, summary.count, duration,
                    summary.p50Milliseconds, summary.p90Milliseconds, summary.p99Milliseconds, summary.p999Milliseconds,
                    Recorder.Summary.describe(summary)))
        }
        // A run that moved nothing, or hit errors, is not a measurement.
        if summary.errors > 0 || summary.count == 0 { throw ExitCode.failure }
    }
}
