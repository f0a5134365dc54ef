public import NIOCore
public import NIOWebSocket

/// A byte stream over WebSocket, as MQTT (MQTT 5.0 §6, 3.1.1 §6) and AMQP (the AMQP WebSocket Binding) carry
/// theirs: binary frames carry the bytes in either direction, packets and frames may span WebSocket frames.
/// Text frames are a protocol error ([MQTT-6.0.0-1]; the AMQP binding's binary frames only) and close with 1003;
/// pings are answered; a close frame is echoed and ends the connection.
public final class WebSocketBridge: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = WebSocketFrame
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = WebSocketFrame

    private var isClosing = false

    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .continuation:
            context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            close(context, code: .normalClosure)
        case .text:
            close(context, code: .unacceptableData)
        default:
            break
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data)
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: bytes)), promise: promise)
    }

    private func close(_ context: ChannelHandlerContext, code: WebSocketErrorCode) {
        guard !isClosing else { return }
        isClosing = true
        context.writeAndFlush(wrapOutboundOut(Self.closeFrame(code, context.channel.allocator))).whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// Closes an upgraded connection that has no bridge yet (one refused before it is served) with `code`.
    public static func close(_ channel: any Channel, code: WebSocketErrorCode) {
        channel.writeAndFlush(closeFrame(code, channel.allocator)).whenComplete { _ in channel.close(promise: nil) }
    }

    private static func closeFrame(_ code: WebSocketErrorCode, _ allocator: ByteBufferAllocator) -> WebSocketFrame {
        var data = allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        return WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
    }
}
