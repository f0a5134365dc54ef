import NIOCore

/// The first handler of an MQTT connection's pipeline, through which the server ends a connection without
/// waiting on the client: what it wrote (a DISCONNECT), then its TLS close_notify and its FIN, then the socket
/// closed from here, below swift-nio-ssl. A close from above swift-nio-ssl waits up to five seconds for the
/// client's close_notify, so one policy change that ended ten thousand connections waited on ten thousand
/// clients (bench/reevaluate.sh). Not waiting is what mosquitto and Netty's SslHandler (by default) do; the
/// cost is theirs too: a client whose bytes are still unread gets a reset with the FIN, which on some stacks
/// discards the DISCONNECT before it is read. Waiting for each client's FIN instead measured slower when ten
/// thousand connections ended at once (BENCHMARKS.md, "Live re-evaluation at scale").
final class SocketCloser: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    /// How long a client that does not read may keep the server's last bytes waiting before the socket closes
    /// anyway.
    static let drainLimit = TimeAmount.seconds(2)

    /// Ends `channel` on its event loop: its output closed once written (through swift-nio-ssl's half-close
    /// where there is TLS), then the socket. A connection without this handler (MQTT over WebSocket) closes the
    /// ordinary way.
    static func close(_ channel: any Channel) {
        channel.eventLoop.preconditionInEventLoop()
        guard let socket = try? channel.pipeline.syncOperations.context(handlerType: SocketCloser.self) else {
            return channel.close(promise: nil)
        }
        let outputClosed = channel.eventLoop.makePromise(of: Void.self)
        let target = NIOLoopBound(WeakContext(socket), eventLoop: channel.eventLoop)
        outputClosed.futureResult.whenComplete { _ in target.value.context?.close(promise: nil) }
        channel.close(mode: .output, promise: outputClosed)
        guard target.value.context?.channel.isActive == true else { return }
        // The kernel has not taken everything yet. The limit is not cancelled when the writes finish first (NIO
        // cancels by a linear search of the loop's timers): it then finds nothing to close.
        channel.eventLoop.scheduleTask(in: drainLimit) { target.value.context?.close(promise: nil) }
    }
}

/// A pipeline context held without keeping the connection alive.
private struct WeakContext {
    weak var context: ChannelHandlerContext?

    init(_ context: ChannelHandlerContext) { self.context = context }
}
