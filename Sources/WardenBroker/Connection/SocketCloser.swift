import NIOCore

/// The first handler of an MQTT connection's pipeline, through which the server ends a connection as mosquitto
/// does: what it wrote (a DISCONNECT), then its TLS close_notify and its FIN, then the socket closed without
/// waiting for the client's close_notify. A close from above swift-nio-ssl waits for that reply (up to five
/// seconds), so one policy change that ends ten thousand connections waited on ten thousand clients
/// (bench/reevaluate.sh).
final class SocketCloser: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    /// How long a client that does not read may keep the server's last bytes waiting before the socket closes
    /// anyway.
    static let drainLimit = TimeAmount.seconds(2)

    /// Ends `channel` on its event loop: its output closed once written (through swift-nio-ssl's half-close
    /// where there is TLS), then the socket. A connection without this handler (MQTT over WebSocket) closes
    /// the ordinary way.
    static func close(_ channel: any Channel) {
        channel.eventLoop.preconditionInEventLoop()
        guard let socket = try? channel.pipeline.syncOperations.context(handlerType: SocketCloser.self) else {
            return channel.close(promise: nil)
        }
        let outputClosed = channel.eventLoop.makePromise(of: Void.self)
        let socketBound = NIOLoopBound(socket, eventLoop: channel.eventLoop)
        let closed = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
        outputClosed.futureResult.whenComplete { _ in
            closed.value = true
            socketBound.value.close(promise: nil)
        }
        channel.close(mode: .output, promise: outputClosed)
        guard !closed.value else { return }
        // The kernel has not taken everything yet: the socket closes when it has, or at the limit.
        let limit = channel.eventLoop.scheduleTask(in: drainLimit) { socketBound.value.close(promise: nil) }
        outputClosed.futureResult.whenComplete { _ in limit.cancel() }
    }
}
