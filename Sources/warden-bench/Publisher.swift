import NIOCore
import WardenCore
import WardenMQTT

/// One publishing connection: CONNECT, then keep at most `window` QoS 1 or 2 PUBLISHes unacknowledged (or send
/// QoS 0 in bursts of `window`) until the deadline or the limit, at `rate` messages per second when one is given.
/// Each payload starts with its send time, so that subscribers can time the trip.
final class Publisher: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = MQTTPacket
    typealias OutboundOut = ByteBuffer

    let connect: ConnectPacketFields
    let payload: ByteBuffer
    let qos: QoS
    let window: Int
    let limit: Int
    let stopAt: NIODeadline
    let recorder: Recorder
    /// Messages per second to offer (0: as fast as the window and the connection allow).
    let rate: Double
    private var sentAt: [UInt16: NIODeadline] = [:]
    /// When the first message went (the offered rate counts from there).
    private var pacingStart: NIODeadline?
    private var isTimerArmed = false
    private var isWaitingForWritability = false
    private var nextPacketID: UInt16 = 1
    private var sent = 0
    /// Acknowledgements came in this read: top the window up once, when the read completes.
    private var windowOpened = false
    private var needsFlush = false
    private let topic: String

    init(
        connect: ConnectPacketFields, topic: String, payloadSize: Int, qos: QoS, window: Int, limit: Int,
        stopAt: NIODeadline, recorder: Recorder, rate: Double = 0
    ) {
        self.rate = rate
        self.connect = connect
        self.topic = topic
        self.payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: max(8, payloadSize))
        self.qos = qos
        self.window = window
        self.limit = limit
        self.stopAt = stopAt
        self.recorder = recorder
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(connect.packet(allocator: context.channel.allocator)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .connack(let connack) where connack.reasonCode == .success:
            fill(context)
        case .connack(let connack):
            recorder.error("CONNACK \(connack.reasonCode.rawValue)")
            context.close(promise: nil)
        case .publishAck(let ack) where ack.kind == .pubrec:
            write(.publishAck(PublishAckPacket(.pubrel, packetID: ack.packetID)), context: context)
            needsFlush = true
        case .publishAck(let ack):
            // 5.0: 0x10 (no matching subscribers) is a success; 0x80 and above refused the message.
            if ack.reasonCode.isFailure { recorder.error("\(ack.kind) \(ack.reasonCode.rawValue)") }
            if let start = sentAt.removeValue(forKey: ack.packetID) { recorder.record(since: start) }
            windowOpened = true
        default:
            break
        }
    }

    /// One flush per read however many acknowledgements it held, as a real client batches (a flush per
    /// message would make the load generator, not the broker, the bottleneck).
    func channelReadComplete(context: ChannelHandlerContext) {
        if windowOpened {
            windowOpened = false
            needsFlush = false
            fill(context)
        } else if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if isWaitingForWritability, context.channel.isWritable {
            isWaitingForWritability = false
            fill(context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        recorder.error("\(type(of: error))")
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
        if pacingStart == nil { pacingStart = now }
        let due = allowedByRate(at: now)
        while sentAt.count < window, sent < limit, qos == .atMostOnce || sent < due {
            let packetID = nextPacketID
            nextPacketID = nextPacketID == .max ? 1 : nextPacketID + 1
            var stamped = payload
            stamped.setInteger(now.uptimeNanoseconds, at: stamped.readerIndex)
            let publish = PublishPacket(
                qos: qos, topic: topic, packetID: qos == .atMostOnce ? nil : packetID, payload: stamped)
            write(.publish(publish), context: context)
            sent += 1
            if qos == .atMostOnce {
                recorder.record(since: now)
                if sent % window == 0 { break }
            } else {
                sentAt[packetID] = now
            }
        }
        context.flush()
        guard qos == .atMostOnce else {
            // QoS 1 and 2 at an offered rate: when the rate (not the window) held the next message back, come
            // back when it is due.
            if rate > 0, sent < limit, sentAt.count < window, !isTimerArmed, let pacingStart {
                isTimerArmed = true
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                let at = pacingStart + .nanoseconds(Int64(clamping: Double(sent) / rate * 1e9))
                context.eventLoop.scheduleTask(deadline: at) {
                    bound.value.0.isTimerArmed = false
                    bound.value.0.fill(bound.value.1)
                }
            }
            return
        }
        // QoS 0 has no acknowledgement to wait for: the next burst follows at the offered rate, or, unpaced, as
        // soon as the socket takes more (back-pressure instead of an ever-growing write buffer).
        if rate == 0, !context.channel.isWritable {
            isWaitingForWritability = true
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let interval: TimeAmount = rate > 0 ? .nanoseconds(Int64(clamping: Double(window) / rate * 1e9)) : .zero
        context.eventLoop.scheduleTask(in: interval) { bound.value.0.fill(bound.value.1) }
    }

    /// How many messages the offered rate allows by `now` since the first (unbounded without a rate).
    private func allowedByRate(at now: NIODeadline) -> Int {
        guard rate > 0, let pacingStart else { return .max }
        return Int(clamping: Double((now - pacingStart).nanoseconds) / 1e9 * rate) &+ 1
    }

    private func write(_ packet: MQTTPacket, context: ChannelHandlerContext) {
        context.write(
            wrapOutboundOut(packet.encoded(connect.version, allocator: context.channel.allocator)), promise: nil)
    }
}
