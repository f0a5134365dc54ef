import Foundation
import Logging
import NIOCore
import NIOSSL

/// One connection to a NATS server: reads the server's operations, answers its PINGs, does the handshake
/// (INFO, then CONNECT, the subscriptions and a PING whose PONG makes the client ready) and pings the server
/// itself so that a server that went silent is noticed. Confined to its channel's event loop.
final class NATSConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private enum Phase {
        case awaitingInfo
        case awaitingPong
        case ready
    }

    /// What the client reads from INFO; everything else the server says is ignored.
    private struct ServerInfo: Decodable {
        var maximumPayload: Int?
        var isTLSRequired: Bool?
        var isAuthenticationRequired: Bool?

        enum CodingKeys: String, CodingKey {
            case maximumPayload = "max_payload"
            case isTLSRequired = "tls_required"
            case isAuthenticationRequired = "auth_required"
        }
    }

    private struct Connect: Encodable {
        let verbose = false
        let pedantic = false
        let name: String
        let lang = "swift"
        let version = "warden"
        let `protocol` = 1
        /// A node never receives its own messages back.
        let echo = false
        let user: String?
        let pass: String?
    }

    private let client: NATSClient
    /// The server's host name, which its certificate must name when TLS is on.
    private let host: String
    private var phase = Phase.awaitingInfo
    private var buffer = ByteBuffer()
    private var outstandingPings = 0
    private var pinger: RepeatedTask?
    private var handshakeTimeout: Scheduled<Void>?

    init(client: NATSClient, host: String) {
        self.client = client
        self.host = host
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        buffer.writeBuffer(&bytes)
        do {
            while let operation = try client.configuration.parser.next(&buffer) {
                try handle(operation, context: context)
            }
        } catch {
            client.logger.error("NATS connection closed", metadata: ["reason": "\(error)"])
            context.close(promise: nil)
        }
        if buffer.readerIndex > 64 * 1024 { buffer.discardReadBytes() }
    }

    /// A server that accepts and then says nothing is given up on like one that does not answer.
    func channelActive(context: ChannelHandlerContext) {
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        let channel = context.channel
        handshakeTimeout = context.eventLoop.scheduleTask(in: client.configuration.connectTimeout) {
            guard case .ready = this.value.phase else {
                this.value.client.logger.warning("NATS did not finish the handshake in time")
                channel.close(promise: nil)
                return
            }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimeout?.cancel()
        pinger?.cancel()
        client.connectionEnded(context.channel)
        context.fireChannelInactive()
    }

    /// Bytes held back while the socket was full go out as soon as it drains.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { client.scheduleFlush(context.channel) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        client.logger.warning("NATS connection failed", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    private func handle(_ operation: NATSServerOperation, context: ChannelHandlerContext) throws {
        switch operation {
        case .info(let body):
            guard case .awaitingInfo = phase else { return }  // later INFOs announce cluster changes
            let info = try JSONDecoder().decode(ServerInfo.self, from: Data(body.readableBytesView))
            try upgrade(context, serverRequiresTLS: info.isTLSRequired == true)
            let connect = Connect(
                name: client.configuration.name, user: client.configuration.user,
                pass: client.configuration.password)
            let json = String(decoding: try JSONEncoder().encode(connect), as: UTF8.self)
            phase = .awaitingPong
            client.beginHandshake(
                on: context.channel, maximumPayload: info.maximumPayload ?? 1024 * 1024, connect: json)
        case .pong:
            outstandingPings = 0
            guard case .awaitingPong = phase else { return }
            phase = .ready
            startPinging(context: context)
            client.handshakeDone(on: context.channel)
        case .ping:
            client.send(.pong, on: context.channel)
        case .message(let message):
            client.dispatch(message)
        case .error(let text):
            client.logger.warning("NATS refused a command", metadata: ["error": "\(text)"])
            if case .ready = phase { return }
            throw NATSProtocolError("the server refused the handshake: \(text)")
        case .ok:
            break
        }
    }

    /// TLS as configured, never less: a server that requires TLS when none is configured, or does not offer it
    /// when it is, is refused. The TLS handler goes first in the pipeline, so CONNECT (with any password) is the
    /// first thing it encrypts.
    private func upgrade(_ context: ChannelHandlerContext, serverRequiresTLS: Bool) throws {
        guard let tls = client.configuration.tls else {
            if serverRequiresTLS { throw NATSProtocolError("the server requires TLS, and none is configured") }
            return
        }
        guard serverRequiresTLS else { throw NATSProtocolError("the server does not offer TLS") }
        // An address is not a server name (no SNI); the certificate is then checked against the address.
        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        let handler = try NIOSSLClientHandler(
            context: NIOSSLContext(configuration: tls), serverHostname: isAddress ? nil : host)
        try context.pipeline.syncOperations.addHandler(handler, position: .first)
    }

    private func startPinging(context: ChannelHandlerContext) {
        let interval = client.configuration.pingInterval
        let channel = context.channel
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        pinger = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let handler = this.value
            guard handler.outstandingPings < 2 else {
                handler.client.logger.warning("NATS stopped answering PINGs")
                channel.close(promise: nil)
                return
            }
            handler.outstandingPings += 1
            handler.client.send(.ping, on: channel)
        }
    }
}
