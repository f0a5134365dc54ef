import ArgumentParser
import Crypto
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import WardenCore
import WardenMQTT
import WardenSecurity

/// `warden-bench`: load for Warden (and any MQTT broker), on SwiftNIO with Warden's own MQTT codec. The first
/// scenario is durable telemetry: device connections publish QoS 1 messages on their telemetry topics, each
/// keeping a window of unacknowledged messages, and the PUBACKs (which Warden sends only after the commit)
/// are counted and timed. Issue 6 grows the scenarios; nothing here is asserted by tests.
@main
struct WardenBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warden-bench", abstract: "MQTT load: durable QoS 1 telemetry from many devices.")

    @Option(help: "Broker address.") var host = "127.0.0.1"
    @Option(help: "Broker port.") var port = 8883
    @Option(help: "PEM CA to trust; without it the connection is plain TCP.") var ca: String?
    @Option(help: "The hub host name devices sign for.") var hubHost = "localhost"
    @Option(help: "A shared access policy with deviceConnect that signs every device's token.") var policy: String?
    @Option(help: "That policy's key (base64).") var key: String?
    @Option(help: "Device ids are PREFIX0 … PREFIX(N-1).") var devicePrefix = "bench-"
    @Option(help: "Device connections.") var devices = 20
    @Option(help: "Unacknowledged messages per connection.") var window = 100
    @Option(help: "Seconds of load after the warm-up.") var duration = 10
    @Option(help: "Seconds of warm-up, not counted.") var warmUp = 2
    @Option(help: "Payload bytes.") var payload = 64
    @Option(help: "QoS of each PUBLISH (0 or 1).") var qos = 1
    @Option(help: "Stop after this many messages in all (0: run for the duration).") var messages = 0
    @Flag(help: "Print the summary as JSON.") var json = false

    func run() async throws {
        let tls = try ca.map { path -> NIOSSLContext in
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
            return try NIOSSLContext(configuration: configuration)
        }
        let signer = try policy.map { name -> (PolicyName, SymmetricKey) in
            guard let key, let bytes = Data(base64Encoded: key) else {
                throw ValidationError("--policy needs --key, the policy's base64 key.")
            }
            return (try PolicyName(name), SymmetricKey(data: bytes))
        }
        let recorder = Recorder(countFrom: .now() + .seconds(Int64(warmUp)))
        let stopAt = NIODeadline.now() + .seconds(Int64(warmUp + duration))
        let perConnection = messages > 0 ? max(1, messages / devices) : Int.max
        let group = MultiThreadedEventLoopGroup.singleton
        var channels: [any Channel] = []
        for index in 0..<devices {
            let deviceID = devicePrefix + String(index)
            var password: [UInt8]?
            if let (name, key) = signer {
                let token = SASTokenSigner.token(
                    resource: "\(hubHost)/devices/\(deviceID)", key: key,
                    expiry: UInt64(Date().timeIntervalSince1970) + 3600, keyName: name)
                password = Array(token.utf8)
            }
            let publisher = Publisher(
                deviceID: deviceID, username: "\(hubHost)/\(deviceID)/?api-version=2021-04-12", password: password,
                payload: ByteBuffer(repeating: UInt8(ascii: "x"), count: payload),
                qos: qos == 0 ? .atMostOnce : .atLeastOnce,
                window: window, limit: perConnection, stopAt: stopAt, recorder: recorder)
            let host = self.host
            let channel = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(
                                try NIOSSLClientHandler(context: tls, serverHostname: host == "127.0.0.1" ? nil : host))
                        }
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PacketDecoder()))
                        try channel.pipeline.syncOperations.addHandler(publisher)
                    }
                }
                .connect(host: host, port: port).get()
            channels.append(channel)
        }
        for channel in channels { try? await channel.closeFuture.get() }
        let summary = recorder.summary(seconds: Double(duration))
        if json {
            let data = try JSONEncoder().encode(summary)
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(
                String(
                    format: "%d devices, window %d, QoS %d, %d-byte payload: %.0f msg/s acknowledged (%d in %ds), "
                        + "PUBACK latency p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms; %d errors",
                    devices, window, qos, payload, summary.messagesPerSecond, summary.acknowledged, duration,
                    summary.p50Milliseconds, summary.p99Milliseconds, summary.p999Milliseconds, summary.errors))
        }
        // A run that moved nothing, or hit errors, is not a measurement.
        if summary.errors > 0 || summary.acknowledged == 0 { throw ExitCode.failure }
    }
}

/// One device connection: CONNECT, then keep `window` QoS 1 PUBLISHes unacknowledged until the deadline.
final class Publisher: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = MQTTPacket
    typealias OutboundOut = ByteBuffer

    let deviceID: String
    let username: String
    let password: [UInt8]?
    let payload: ByteBuffer
    let qos: QoS
    let window: Int
    let limit: Int
    let stopAt: NIODeadline
    let recorder: Recorder
    private var sentAt: [UInt16: NIODeadline] = [:]
    private var nextPacketID: UInt16 = 1
    private var sent = 0
    private lazy var topic = "devices/\(deviceID)/messages/events/"

    init(
        deviceID: String, username: String, password: [UInt8]?, payload: ByteBuffer, qos: QoS, window: Int,
        limit: Int, stopAt: NIODeadline, recorder: Recorder
    ) {
        self.deviceID = deviceID
        self.username = username
        self.password = password
        self.payload = payload
        self.qos = qos
        self.window = window
        self.limit = limit
        self.stopAt = stopAt
        self.recorder = recorder
    }

    func channelActive(context: ChannelHandlerContext) {
        let connect = ConnectPacket(
            protocolVersion: .v311, cleanStart: true, keepAlive: 60, clientID: deviceID, username: username,
            password: password)
        write(.connect(connect), context: context)
        context.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .connack(let connack) where connack.reasonCode == .success:
            fill(context)
        case .connack:
            recorder.error()
            context.close(promise: nil)
        case .publishAck(let ack):
            if let start = sentAt.removeValue(forKey: ack.packetID) { recorder.acknowledged(since: start) }
            fill(context)
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        recorder.error()
        context.close(promise: nil)
    }

    /// Tops the window up, or closes once the deadline passed and everything sent was acknowledged.
    private func fill(_ context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        guard now < stopAt, sent < limit else {
            if sentAt.isEmpty || qos == .atMostOnce {
                write(.disconnect(ReasonPacket()), context: context)
                context.flush()
                context.close(promise: nil)
            }
            return
        }
        while sentAt.count < window, sent < limit {
            let packetID = nextPacketID
            nextPacketID = nextPacketID == .max ? 1 : nextPacketID + 1
            let publish = PublishPacket(
                qos: qos, topic: topic, packetID: qos == .atMostOnce ? nil : packetID, payload: payload)
            write(.publish(publish), context: context)
            sent += 1
            if qos == .atMostOnce {
                recorder.acknowledged(since: now)
                if sent % window == 0 { break }
            } else {
                sentAt[packetID] = now
            }
        }
        context.flush()
        if qos == .atMostOnce {
            context.eventLoop.execute { self.fill(context) }
        }
    }

    private func write(_ packet: MQTTPacket, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 128)
        MQTTEncoder.encode(packet, version: .v311, into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }
}

/// Frames the byte stream into packets with Warden's decoder.
struct PacketDecoder: ByteToMessageDecoder {
    typealias InboundOut = MQTTPacket

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let packet = try MQTTDecoder.decode(&buffer, version: .v311, limits: DecodingLimits()) else {
            return .needMoreData
        }
        context.fireChannelRead(NIOAny(packet))
        return .continue
    }
}

/// Counts acknowledgements after the warm-up and keeps their latencies.
final class Recorder: Sendable {
    struct Summary: Codable {
        let acknowledged: Int
        let messagesPerSecond: Double
        let p50Milliseconds: Double
        let p99Milliseconds: Double
        let p999Milliseconds: Double
        let errors: Int
    }

    let countFrom: NIODeadline
    private let state = Mutex<(latencies: [Int64], errors: Int)>(([], 0))

    init(countFrom: NIODeadline) {
        self.countFrom = countFrom
    }

    func acknowledged(since start: NIODeadline) {
        let now = NIODeadline.now()
        guard start >= countFrom else { return }
        state.withLock { $0.latencies.append((now - start).nanoseconds) }
    }

    func error() {
        state.withLock { $0.errors += 1 }
    }

    func summary(seconds: Double) -> Summary {
        state.withLock { state in
            let sorted = state.latencies.sorted()
            func percentile(_ fraction: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]) / 1_000_000
            }
            return Summary(
                acknowledged: sorted.count, messagesPerSecond: Double(sorted.count) / seconds,
                p50Milliseconds: percentile(0.5), p99Milliseconds: percentile(0.99),
                p999Milliseconds: percentile(0.999), errors: state.errors)
        }
    }
}
