import NIOCore
import Synchronization
import WardenMQTT

/// One device of a soak: CONNECT, SUBSCRIBE to its cloud-to-device topic, then one QoS 1 telemetry message
/// every `interval` (the first after a random share of it, so that a fleet does not publish in step), and a
/// PUBACK for every message that arrives. `retire()` ends it as a device that goes away politely: no new
/// messages, DISCONNECT once the last one is acknowledged.
final class SoakDevice: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = MQTTPacket
    typealias OutboundOut = ByteBuffer

    /// What every device of the run reports to.
    final class Meters: Sendable {
        /// PUBACK latency of telemetry; errors by kind.
        let telemetry = Recorder(countFrom: .now())
        /// Send (through the API) to arrival of cloud-to-device messages.
        let cloudToDevice = Recorder(countFrom: .now())
        let connected = Atomic(0)
    }

    let connect: ConnectPacketFields
    let interval: TimeAmount
    let meters: Meters
    private let topic: String
    private var context: ChannelHandlerContext?
    private var sentAt: [UInt16: NIODeadline] = [:]
    private var nextPacketID: UInt16 = 2
    private var publishing: RepeatedTask?
    private var isConnected = false
    private var isRetiring = false
    private var needsFlush = false

    init(connect: ConnectPacketFields, interval: TimeAmount, meters: Meters) {
        self.connect = connect
        self.interval = interval
        self.meters = meters
        self.topic = "devices/\(connect.clientID)/messages/events/"
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(connect.packet(allocator: context.channel.allocator)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .connack(let connack) where connack.reasonCode != .success:
            meters.telemetry.error("CONNACK \(connack.reasonCode.rawValue)")
            context.close(promise: nil)
        case .connack:
            isConnected = true
            meters.connected.add(1, ordering: .relaxed)
            guard let filter = try? TopicFilter("devices/\(connect.clientID)/messages/devicebound/#") else {
                return context.close(promise: nil)
            }
            write(.subscribe(SubscribePacket(packetID: 1, subscriptions: [.init(filter: filter, qos: .atLeastOnce)])))
            startPublishing(context)
        case .suback(let suback):
            if let refusal = suback.reasonCodes.first(where: \.isFailure) {
                meters.telemetry.error("SUBACK \(refusal.rawValue)")
            }
        case .publishAck(let ack) where ack.kind == .puback:
            if ack.reasonCode.isFailure { meters.telemetry.error("PUBACK \(ack.reasonCode.rawValue)") }
            if let start = sentAt.removeValue(forKey: ack.packetID) { meters.telemetry.record(since: start) }
            if isRetiring, sentAt.isEmpty { disconnect() }
        case .publish(let publish):
            if let packetID = publish.packetID { write(.publishAck(PublishAckPacket(.puback, packetID: packetID))) }
            // The API sender put its send time (uptime nanoseconds) in the body.
            // total: parses text: nil unless a number.
            if let nanos = UInt64(String(buffer: publish.payload)) {
                meters.cloudToDevice.record(since: .uptimeNanoseconds(nanos))
            } else {
                meters.cloudToDevice.error("payload without a send time")
            }
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        publishing?.cancel()
        if isConnected {
            isConnected = false
            meters.connected.add(-1, ordering: .relaxed)
        }
        if !sentAt.isEmpty { meters.telemetry.error("unacknowledged at close") }
        sentAt.removeAll()
        self.context = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        meters.telemetry.error("\(type(of: error))")
        context.close(promise: nil)
    }

    /// Stops publishing and disconnects once nothing is in flight (within 10 s at most). Call on the loop.
    func retire() {
        guard let context, !isRetiring else { return }
        isRetiring = true
        publishing?.cancel()
        if sentAt.isEmpty { return disconnect() }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .seconds(10)) { bound.value.disconnect() }
    }

    private func disconnect() {
        guard let context else { return }
        write(.disconnect(ReasonPacket()))
        context.flush()
        context.close(promise: nil)
    }

    private func startPublishing(_ context: ChannelHandlerContext) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let offset = TimeAmount.nanoseconds(.random(in: 0..<max(1, interval.nanoseconds)))
        publishing = context.eventLoop.scheduleRepeatedTask(initialDelay: offset, delay: interval) { _ in
            bound.value.publishOne()
        }
    }

    private func publishOne() {
        guard let context, !isRetiring else { return }
        let packetID = nextPacketID
        nextPacketID = nextPacketID == .max ? 2 : nextPacketID + 1
        let now = NIODeadline.now()
        sentAt[packetID] = now
        let payload = ByteBuffer(string: "{\"sentAt\":\(now.uptimeNanoseconds),\"temperature\":21.5}")
        write(.publish(PublishPacket(qos: .atLeastOnce, topic: topic, packetID: packetID, payload: payload)))
        context.flush()
    }

    private func write(_ packet: MQTTPacket) {
        guard let context else { return }
        context.write(
            wrapOutboundOut(packet.encoded(connect.version, allocator: context.channel.allocator)), promise: nil)
        needsFlush = true
    }
}
