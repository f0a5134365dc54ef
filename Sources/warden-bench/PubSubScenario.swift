import ArgumentParser
import Foundation
import NIOCore
import WardenMQTT

/// Plain MQTT throughput and latency between publishers and subscribers, for any broker: `pairs` (N publishers
/// each to its own subscriber), `fan-in` (N publishers to one subscriber of `bench/#`), `fan-out` (one
/// publisher to N subscribers of one topic). Reports messages per second in (acknowledged, or sent at QoS 0)
/// and out (received), and the trip time from publisher to subscriber.
struct PubSubScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pubsub", abstract: "Publishers and subscribers: pairs, fan-in or fan-out, QoS 0, 1 or 2.")

    enum Shape: String, ExpressibleByArgument, CaseIterable {
        case pairs
        case fanIn = "fan-in"
        case fanOut = "fan-out"
    }

    @OptionGroup var connection: DeviceOptions
    @OptionGroup var broker: BrokerProcess
    @Option(help: "pairs, fan-in or fan-out.") var shape = Shape.pairs
    @Option(help: "Unacknowledged messages per publisher (QoS 0: messages per burst).") var window = 100
    @Option(help: "Seconds of load after the warm-up.") var duration = 10
    @Option(help: "Seconds of warm-up, not counted.") var warmUp = 2
    @Option(help: "Payload bytes (at least 8: the send time).") var payload = 64
    @Option(help: "QoS of publishing and subscribing (0, 1 or 2).") var qos = 1
    @Option(help: "Messages per second per publisher, any QoS (0: as fast as the window allows).") var rate: Double = 0
    @Flag(help: "Print the summary as JSON.") var json = false

    struct Summary: Codable {
        let shape: String
        let qos: Int
        let published: Recorder.Summary
        let received: Recorder.Summary
        let broker: BrokerProcess.Cost?
    }

    func validate() throws {
        try OptionBounds.check(duration: duration, warmUp: warmUp, window: window, payload: payload, qos: 0...2, qos)
        try OptionBounds.check(rate: rate)
    }

    func run() async throws {
        guard let level = UInt8(exactly: qos).flatMap(QoS.init(rawValue:)) else {
            throw ValidationError("--qos is 0, 1 or 2.")
        }
        let publishers = shape == .fanOut ? 1 : connection.devices
        let subscribers = shape == .fanIn ? 1 : connection.devices
        // total: validate() bounds --warm-up and --duration.
        let countFrom = NIODeadline.now() + .seconds(Int64(warmUp))
        let published = Recorder(countFrom: countFrom)
        let received = Recorder(countFrom: countFrom)
        var ready: [EventLoopFuture<Void>] = []
        var channels: [any Channel] = []
        for index in 0..<subscribers {
            let filter =
                switch shape {
                case .pairs: "bench/\(index)"
                case .fanIn: "bench/#"
                case .fanOut: "bench/all"
                }
            let subscriber = Subscriber(
                connect: try connection.connectPacket(index, role: "sub"), filter: filter, qos: level,
                recorder: received
            ) { payload in payload.getInteger(at: payload.readerIndex, as: UInt64.self) }
            let channel = try await connection.connect(index, subscriber)
            ready.append(try subscriber.subscribed(on: channel))
            channels.append(channel)
        }
        do {
            for future in ready { try await future.get() }
        } catch {
            print("Subscribers could not subscribe: \(Recorder.Summary.describe(received.summary(seconds: 1)))")
            throw ExitCode.failure
        }
        // total: validate() bounds --warm-up and --duration.
        let stopAt = NIODeadline.now() + .seconds(Int64(warmUp + duration))
        let before = broker.sample()
        var publishing: [any Channel] = []
        for index in 0..<publishers {
            let publisher = Publisher(
                connect: try connection.connectPacket(index, role: "pub"),
                topic: shape == .fanOut ? "bench/all" : "bench/\(index)", payloadSize: payload, qos: level,
                window: window, limit: .max, stopAt: stopAt, recorder: published, rate: rate)
            publishing.append(try await connection.connect(index, publisher))
        }
        for channel in publishing { try? await channel.closeFuture.get() }
        let cost = broker.cost(since: before)
        // What is still in flight arrives within a moment; then the subscribers go.
        try await Task.sleep(for: .seconds(1))
        for channel in channels { try? await channel.close() }
        let summary = Summary(
            shape: shape.rawValue, qos: qos, published: published.summary(seconds: Double(duration)),
            received: received.summary(seconds: Double(duration)), broker: cost)
        if json {
            print(String(decoding: try JSONEncoder().encode(summary), as: UTF8.self))
        } else {
            let pacing = rate > 0 ? String(format: ", %.0f msg/s each", rate) : ""
            let table = Recorder.Summary.table([
                (qos == 0 ? "published" : "published (acknowledged)", summary.published),
                ("received (publisher to subscriber)", summary.received),
            ])
            print(
                [
                    "\(shape.rawValue): \(publishers) publishers, \(subscribers) subscribers, "
                        + "MQTT \(connection.mqttVersion.rawValue), QoS \(qos), \(payload)-byte payload, "
                        + "window \(window)\(pacing), \(duration) s measured",
                    table, Recorder.Summary.describe(summary.published, summary.received), cost?.line,
                ].compactMap { $0 }.joined(separator: "\n"))
        }
        if summary.published.errors + summary.received.errors > 0 || summary.received.count == 0 {
            throw ExitCode.failure
        }
    }
}
