import NIOCore
import WardenMQTT

/// One subscribing connection: CONNECT, SUBSCRIBE to one filter, acknowledge what arrives (QoS 1 PUBACK, QoS 2
/// PUBREC then PUBCOMP) and time each message from the send time its payload carries.
final class Subscriber: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = MQTTPacket
    typealias OutboundOut = ByteBuffer

    let connect: ConnectPacketFields
    let filter: String
    let qos: QoS
    let recorder: Recorder
    /// The send time (uptime nanoseconds) a payload carries, if it does.
    let sentAt: @Sendable (ByteBuffer) -> UInt64?
    private var subscription: EventLoopPromise<Void>?
    private var suback: EventLoopFuture<Void>?
    /// Acknowledgements written in this read, flushed once when it completes.
    private var needsFlush = false

    init(
        connect: ConnectPacketFields, filter: String, qos: QoS, recorder: Recorder,
        sentAt: @escaping @Sendable (ByteBuffer) -> UInt64?
    ) {
        self.connect = connect
        self.filter = filter
        self.qos = qos
        self.recorder = recorder
        self.sentAt = sentAt
    }

    /// Made when the handler joins its pipeline, before the connection exists, so no SUBACK can come first.
    func handlerAdded(context: ChannelHandlerContext) {
        subscription = context.eventLoop.makePromise(of: Void.self)
        suback = subscription?.futureResult
    }

    /// Succeeds once the SUBACK arrives (the connect future completed after `handlerAdded`).
    func subscribed(on channel: any Channel) throws -> EventLoopFuture<Void> {
        guard let suback else { throw ChannelError.inappropriateOperationForState }
        return suback
    }

    func channelActive(context: ChannelHandlerContext) {
        send(connect.packet(allocator: context.channel.allocator), context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .connack(let connack) where connack.reasonCode != .success:
            refused("CONNACK \(connack.reasonCode.rawValue)", context)
        case .connack:
            guard let filter = try? TopicFilter(filter) else { return context.close(promise: nil) }
            let subscribe = MQTTPacket.subscribe(
                SubscribePacket(packetID: 1, subscriptions: [.init(filter: filter, qos: qos)]))
            send(subscribe.encoded(connect.version, allocator: context.channel.allocator), context)
        case .suback(let suback):
            if let refusal = suback.reasonCodes.first(where: \.isFailure) {
                return refused("SUBACK \(refusal.rawValue)", context)
            }
            settle(.success(()))
        case .publish(let publish):
            if let packetID = publish.packetID {
                let kind: PublishAckPacket.Kind = publish.qos == .exactlyOnce ? .pubrec : .puback
                let ack = MQTTPacket.publishAck(PublishAckPacket(kind, packetID: packetID))
                acknowledge(ack, context)
            }
            if let nanos = sentAt(publish.payload) {
                recorder.record(since: .uptimeNanoseconds(nanos))
            } else {
                recorder.error("payload without a send time")
            }
        case .publishAck(let ack) where ack.kind == .pubrel:
            acknowledge(.publishAck(PublishAckPacket(.pubcomp, packetID: ack.packetID)), context)
        default:
            break
        }
    }

    /// The broker said no: counted by its code, and the run stops waiting for this subscription.
    private func refused(_ kind: String, _ context: ChannelHandlerContext) {
        recorder.error(kind)
        settle(.failure(ChannelError.inappropriateOperationForState))
        context.close(promise: nil)
    }

    /// Closed before its SUBACK (a refusal without a CONNACK, a dropped connection): the run must not wait.
    func channelInactive(context: ChannelHandlerContext) {
        settle(.failure(ChannelError.ioOnClosedChannel))
        context.fireChannelInactive()
    }

    /// Completes the subscription once; later outcomes (a close after SUBACK) change nothing.
    private func settle(_ result: Result<Void, any Error>) {
        subscription?.completeWith(result)
        subscription = nil
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        recorder.error("\(type(of: error))")
        settle(.failure(error))
        context.close(promise: nil)
    }

    private func acknowledge(_ ack: MQTTPacket, _ context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(ack.encoded(connect.version, allocator: context.channel.allocator)), promise: nil)
        needsFlush = true
    }

    private func send(_ buffer: ByteBuffer, _ context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }
}
