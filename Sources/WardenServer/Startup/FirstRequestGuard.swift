import Metrics
import NIOCore
import NIOHTTP1
import WardenCore

/// What the HTTPS port allows a connection before its first request is whole.
struct FirstRequestLimits: Sendable {
    /// From accept, through the TLS handshake, to the first request's complete head (`https.first-request-timeout`).
    var timeout: TimeAmount = .seconds(10)
    /// The request line and header fields together (`https.max-header-bytes`).
    var maximumHeaderBytes = 32 * 1024
    var maximumHeaderFields = 100
    /// From a request's head to its last body byte, for every request (`https.request-timeout`).
    var requestTimeout: TimeAmount = .seconds(60)
    /// Connections still in that phase, per address and in total (`https.max-pending-per-ip`,
    /// `https.max-pending`).
    let pending: PendingConnections
    /// Banned addresses (the Defender's): closed before TLS.
    var gate: any ConnectionGate = OpenGate()
}

/// Guards a connection of the HTTPS port until its first request is read: closes it when the deadline passes
/// (a handshake or a header block left half-sent), answers a first request the HTTP decoder refuses (431 for
/// headers over the limit, else 400) and closes, and keeps it counted among the pending connections. Once
/// the first request is read, Hummingbird's own idle timeout and error answers take over, and this handler
/// leaves the pipeline.
///
/// Metrics: `warden_https_limit_hits_total{limit}` with `first_request_timeout`, `header_size`,
/// `malformed_request`, `pending_per_ip`, `pending_total`.
final class FirstRequestGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var isAnswered = false

    static func hit(_ limit: String) {
        Counter(label: "warden_https_limit_hits_total", dimensions: [("limit", limit)]).increment()
    }

    /// Adds the guard after the upgrade handler, arms the deadline, and releases the pending slot once the
    /// connection is negotiated or gone.
    static func install(
        on channel: any Channel, negotiated: EventLoopFuture<some Sendable>, address: IPAddress,
        limits: FirstRequestLimits
    ) throws {
        let guardHandler = FirstRequestGuard()
        try channel.pipeline.syncOperations.addHandler(guardHandler)
        let deadline = channel.eventLoop.scheduleTask(in: limits.timeout) {
            hit("first_request_timeout")
            channel.close(promise: nil)
        }
        let released = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
        let release: @Sendable () -> Void = {
            guard !released.value else { return }
            released.value = true
            deadline.cancel()
            limits.pending.release(address)
        }
        let handler = NIOLoopBound(guardHandler, eventLoop: channel.eventLoop)
        negotiated.whenComplete { result in
            release()
            if case .success = result {
                channel.pipeline.syncOperations.removeHandler(handler.value, promise: nil)
            }
        }
        channel.closeFuture.whenComplete { _ in release() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError else {
            // Bytes after a refused request: the answer is on its way, the connection closes after it.
            if case ByteToMessageDecoderError.dataReceivedInErrorState = error { return }
            context.fireErrorCaught(error)
            return
        }
        guard !isAnswered else { return }
        isAnswered = true
        let isTooLarge = parseError == .headerOverflow
        Self.hit(isTooLarge ? "header_size" : "malformed_request")
        let head = HTTPResponseHead(
            version: .http1_1, status: isTooLarge ? .requestHeaderFieldsTooLarge : .badRequest,
            headers: ["Connection": "close", "Content-Length": "0"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        // Closing at once could reset the connection while the client still sends, before it reads the
        // answer; a second of lingering (its further bytes are discarded) lets it read.
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
        }
    }
}
