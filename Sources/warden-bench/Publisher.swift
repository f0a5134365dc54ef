import NIOCore
import WardenMQTT

/// One device connection: CONNECT, then keep `window` QoS 1 PUBLISHes unacknowledged until the deadline.
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
    private var sentAt: [UInt16: NIODeadline] = [:]
    private var nextPacketID: UInt16 = 1
    private var sent = 0
    private let topic: String

    init(
        connect: ConnectPacketFields, payload: ByteBuffer, qos: QoS, window: Int, limit: Int, stopAt: NIODeadline,
        recorder: Recorder
    ) {
        self.connect = connect
        self.topic = "devices/\(connect.clientID)/messages/events/"
        self.payload = payload
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
        case .connack:
            recorder.error()
            context.close(promise: nil)
        case .publishAck(let ack):
            if let start = sentAt.removeValue(forKey: ack.packetID) { recorder.record(since: start) }
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
                recorder.record(since: now)
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
        context.write(wrapOutboundOut(packet.encoded(allocator: context.channel.allocator)), promise: nil)
    }
}
