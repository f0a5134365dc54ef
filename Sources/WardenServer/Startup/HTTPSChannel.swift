import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import WardenAPI
import WardenAuthentication
import WardenBroker
import WardenCore
import WardenTLS

/// The HTTPS port's connections, TLS first (from a slot SIGHUP refills): HTTP/1.1 for the API, or — after a
/// WebSocket upgrade on an MQTT path with subprotocol `mqtt`, or on an AMQP path with an AMQP subprotocol — MQTT
/// or AMQP (docs/architecture.md, "Listeners"). Any other upgrade request is answered as plain HTTP.
struct HTTPSChannel: ServerChildChannel {
    /// What the first request turned the connection into.
    enum Negotiated: Sendable {
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        /// MQTT or AMQP over WebSocket, served by its handlers until it closes.
        case webSocket(any Channel)
    }

    /// A protocol the port carries over WebSocket: the paths and subprotocols that ask for it, and what
    /// installs its handlers on the upgraded channel with the chain the TLS handshake presented.
    struct WebSocketProtocol: Sendable {
        let paths: Set<String>
        let subprotocols: Set<String>
        let adopt: @Sendable (any Channel, PresentedChain) -> EventLoopFuture<Void>
    }

    /// The connection, and what it becomes once its first request is read: setup cannot wait for that
    /// (the first bytes arrive only after setup returns).
    struct Value: ServerChildChannelValue {
        let channel: any Channel
        let negotiated: EventLoopFuture<Negotiated>
    }

    /// The certificate for new connections (replaced on SIGHUP).
    let tls: TLSContextSlot
    let http: HTTP1Channel
    /// MQTT, and AMQP when its endpoint is on; the first a request's path and offered subprotocols fit wins.
    let webSocketProtocols: [WebSocketProtocol]
    let maximumFrameSize: Int
    /// Bounds on a connection before it has sent a whole first request.
    let limits: FirstRequestLimits

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let http = self.http
        let limits = self.limits
        let protocols = webSocketProtocols
        let presented = PresentedCertificates()
        let upgrader = NIOTypedWebSocketServerUpgrader<Negotiated>(
            maxFrameSize: maximumFrameSize,
            shouldUpgrade: { channel, head in
                channel.eventLoop.makeSucceededFuture(
                    Self.chosen(head, from: protocols).map {
                        HTTPHeaders([("Sec-WebSocket-Protocol", $0.subprotocol)])
                    })
            },
            upgradePipelineHandler: { channel, head in
                // The same choice shouldUpgrade made: the request has not changed.
                guard let chosen = Self.chosen(head, from: protocols) else {
                    return channel.eventLoop.makeFailedFuture(ChannelError.inputClosed)
                }
                return chosen.protocol.adopt(channel, presented.chain).map { Negotiated.webSocket(channel) }
            })
        var configuration = NIOUpgradableHTTPServerPipelineConfiguration<Negotiated>(
            upgradeConfiguration: .init(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(RequestDeadlineHandler(timeout: limits.requestTimeout))
                        try sync.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try sync.addHandlers(http.configuration.additionalChannelHandlers())
                        try sync.addHandler(
                            HTTPConnectionStateHandler(
                                idleTimeout: http.configuration.idleTimeout.map { .init($0) }, logger: logger))
                        return Negotiated.http(
                            try NIOAsyncChannel(
                                wrappingChannelSynchronously: channel,
                                configuration: .init(isOutboundHalfClosureEnabled: true)))
                    }
                }))
        // As Hummingbird's own HTTP/1 channel: it answers errors and pipelined requests itself.
        configuration.enablePipelining = false
        configuration.enableErrorHandling = false
        configuration.enableResponseHeaderValidation = false
        // The request line and every header field count towards one limit; beyond it the first request is
        // answered 431 by `FirstRequestGuard`, later ones 400 by Hummingbird.
        configuration.decoderConfiguration.maxHeaderListSize = limits.maximumHeaderBytes
        configuration.decoderConfiguration.maxHeaderFieldSize = limits.maximumHeaderBytes
        configuration.decoderConfiguration.maxHeaderFieldCount = limits.maximumHeaderFields
        let context = tls.current
        guard let address = channel.remoteAddress?.ipAddress.flatMap(IPAddress.init) else {
            return Self.refuse(channel)
        }
        if limits.gate.ban(of: address) != nil { return Self.refuse(channel) }
        limits.gate.accepted(from: address)
        if let refusal = limits.pending.admit(address) {
            FirstRequestGuard.hit(refusal.rawValue)
            return Self.refuse(channel)
        }
        return channel.eventLoop.makeCompletedFuture {
            // A client certificate is asked for, never required: the HTTPS device API authenticates X.509 devices
            // with it (by thumbprint or tenant CA, decided per request); everyone else presents none.
            try channel.pipeline.syncOperations.addHandler(
                TLSServerHandler(context: context) { presented.chain.record($0) })
            try channel.pipeline.syncOperations.addHandler(presented)
            let negotiated = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(
                configuration: configuration)
            try FirstRequestGuard.install(on: channel, negotiated: negotiated, address: address, limits: limits)
            return Value(channel: channel, negotiated: negotiated)
        }
    }

    /// The protocol an upgrade request asks for, with the subprotocol to answer: the first of the client's
    /// offered subprotocols (in its order) that a protocol serving the request's path speaks.
    private static func chosen(_ head: HTTPRequestHead, from protocols: [WebSocketProtocol]) -> (
        protocol: WebSocketProtocol, subprotocol: String
    )? {
        let path = String(head.uri.prefix { $0 != "?" })
        let offered = head.headers["Sec-WebSocket-Protocol"].flatMap {
            $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        for subprotocol in offered {
            if let match = protocols.first(where: { $0.paths.contains(path) && $0.subprotocols.contains(subprotocol) })
            {
                return (match, subprotocol)
            }
        }
        return nil
    }

    /// Closes a connection refused before any work. Setup itself succeeds: a failed setup would be raised on
    /// the listening channel and end the server's accept loop.
    private static func refuse(_ channel: any Channel) -> EventLoopFuture<Value> {
        channel.close(promise: nil)
        return channel.eventLoop.makeSucceededFuture(
            Value(channel: channel, negotiated: channel.eventLoop.makeFailedFuture(ChannelError.inputClosed)))
    }

    func handle(value: Value, logger: Logger) async {
        switch try? await value.negotiated.get() {
        case .http(let channel):
            await http.handle(value: channel, logger: logger)
        case .webSocket(let channel):
            try? await channel.closeFuture.get()
        case nil:
            try? await value.channel.close()
        }
    }
}
