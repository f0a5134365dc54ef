import NIOCore
import NIOHTTP1

/// Bounds the time from a request's head to its last body byte (`https.request-timeout`): the idle timeout
/// restarts with every chunk, so without this a body sent a byte at a time just inside it would hold the
/// connection forever. Answers already being written are not bounded (server-sent events stream for as long as
/// the client listens). Counts `warden_https_limit_hits_total{limit="request_timeout"}`.
final class RequestDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            deadline?.cancel()
            let channel = context.channel
            deadline = context.eventLoop.scheduleTask(in: timeout) {
                FirstRequestGuard.hit("request_timeout")
                channel.close(promise: nil)
            }
        case .end:
            deadline?.cancel()
            deadline = nil
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }
}
