import ArgumentParser
import Foundation
import NIOCore
import Synchronization
import WardenCore
import WardenMQTT

/// A connect storm: N device connections opened at a given rate (TCP, TLS handshake, CONNECT with a SAS
/// token, a username and password, or anonymous), CONNACK latency measured from the TCP connect, refusals counted by their code; the
/// connections stay open until the last one is in (they are then idle connections), then close.
struct ConnectScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect", abstract: "Open many connections at a rate; time each CONNACK.")

    @OptionGroup var connection: DeviceOptions
    @OptionGroup var broker: BrokerProcess
    @Option(help: "New connections per second (0: as fast as possible).") var rate: Double = 500
    @Option(help: "Seconds to hold every connection open once all are in (to measure idle memory).") var hold = 0
    @Flag(help: "Print the summary as JSON.") var json = false

    struct Summary: Codable {
        let connections: Int
        let connectsPerSecond: Double
        let connack: Recorder.Summary
        let refusals: [String: Int]
        let broker: BrokerProcess.Cost?
    }

    func validate() throws {
        try OptionBounds.check(rate: rate, maximum: 1_000_000)
        try OptionBounds.check(hold, 0...86_400, "hold")
    }

    func run() async throws {
        let recorder = Recorder(countFrom: .now())
        let refusals = Refusals()
        let before = broker.sample()
        let start = NIODeadline.now()
        var channels: [any Channel] = []
        for index in 0..<connection.devices {
            if rate > 0 {
                let due = start + .nanoseconds(Int64(clamping: Double(index) / rate * 1e9))
                let wait = due - .now()
                if wait > .zero { try await Task.sleep(for: .nanoseconds(wait.nanoseconds)) }
            }
            let connector = Connector(
                connect: try connection.connectPacket(index), startedAt: .now(), recorder: recorder,
                refusals: refusals)
            do {
                channels.append(try await connection.connect(index, connector))
            } catch {
                refusals.count("connect: \(type(of: error))")
            }
        }
        while recorder.count + refusals.total < connection.devices, NIODeadline.now() - start < .seconds(300) {
            try await Task.sleep(for: .milliseconds(10))
        }
        let elapsed = Double((NIODeadline.now() - start).nanoseconds) / 1e9
        if hold > 0 { try await Task.sleep(for: .seconds(hold)) }
        let cost = broker.cost(since: before)
        for channel in channels { try? await channel.close() }
        let summary = Summary(
            connections: recorder.count, connectsPerSecond: Double(recorder.count) / elapsed,
            connack: recorder.summary(seconds: elapsed), refusals: refusals.all, broker: cost)
        if json {
            print(String(decoding: try JSONEncoder().encode(summary), as: UTF8.self))
        } else {
            let refusals = summary.refusals.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            print(
                [
                    "connect: \(summary.connections) of \(connection.devices) connected, MQTT "
                        + "\(connection.mqttVersion.rawValue)\(connection.ca == nil ? "" : " over TLS"), "
                        + String(format: "%.0f connects/s", summary.connectsPerSecond),
                    Recorder.Summary.table([("CONNACK (from the TCP connect)", summary.connack)]),
                    "refusals: " + (refusals.isEmpty ? "none" : refusals.joined(separator: ", ")), cost?.line,
                ].compactMap { $0 }.joined(separator: "\n"))
        }
        if summary.connections == 0 { throw ExitCode.failure }
    }
}

/// Refusals by kind (CONNACK code, connect error).
final class Refusals: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func count(_ kind: String) { counts.withLock { $0[kind, default: 0] += 1 } }
    var all: [String: Int] { counts.withLock { $0 } }
    var total: Int { counts.withLock { $0.values.reduce(0, +) } }
}

/// One connection of the storm: CONNECT once TCP (and TLS) is up, record the CONNACK.
final class Connector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = MQTTPacket
    typealias OutboundOut = ByteBuffer

    let connect: ConnectPacketFields
    let startedAt: NIODeadline
    let recorder: Recorder
    let refusals: Refusals

    init(connect: ConnectPacketFields, startedAt: NIODeadline, recorder: Recorder, refusals: Refusals) {
        self.connect = connect
        self.startedAt = startedAt
        self.recorder = recorder
        self.refusals = refusals
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(connect.packet(allocator: context.channel.allocator)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .connack(let connack) = unwrapInboundIn(data) else { return }
        if connack.reasonCode == .success {
            recorder.record(since: startedAt)
        } else {
            refusals.count("CONNACK \(connack.reasonCode.rawValue)")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        refusals.count("\(type(of: error))")
        context.close(promise: nil)
    }
}
