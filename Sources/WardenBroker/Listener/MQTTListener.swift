public import Logging
public import NIOCore
import NIOPosix
import NIOWebSocket
public import ServiceLifecycle
import Synchronization
public import WardenAuthentication
public import WardenCore
public import WardenMQTT
public import WardenPolicy
public import WardenTLS

/// One MQTT listening socket (TLS, or plain when configured) running as a lifecycle service: it accepts,
/// rate-limits by source address before TLS, and hands each connection to an `MQTTConnectionHandler`.
public final class MQTTListener: Service, Sendable {
    /// One listener's settings (`mqtt.*` in docs/configuration.md).
    public struct Configuration: Sendable {
        /// A name for logs and metric labels: `mqtts` or `mqtt`.
        public var name: String
        public var host: String
        /// 0 picks a free port.
        public var port: Int
        /// Whether clients without credentials are admitted, and what they may do; never on TLS listeners
        /// facing devices by default.
        public var anonymous: AnonymousAccess?
        /// The tenant whose topic space anonymous clients share.
        public var anonymousTenant: TenantID = .defaultTenant
        /// Packet size and count limits for the decoder.
        public var decodingLimits = DecodingLimits()
        /// CONNECT must arrive within this after the TLS handshake.
        public var connectTimeout: TimeAmount = .seconds(10)
        /// Inbound QoS 2 messages awaiting PUBREL (5.0 Receive Maximum).
        public var receiveMaximum: UInt16 = 100
        /// Inbound topic aliases (5.0 Topic Alias Maximum).
        public var topicAliasMaximum: UInt16 = 16
        /// A cap on the keep-alive a 5.0 client may ask for (told as Server Keep Alive); nil for none.
        public var maximumKeepAlive: UInt16?
        /// The keep-alive Azure-dialect devices get at most (also when they ask for none).
        public var azureMaximumKeepAlive: UInt16 = 1177
        /// On 3.1.1, whether a denied PUBLISH closes the connection (true) or is dropped silently.
        public var closeOnDeniedPublish = true

        public init(name: String, host: String, port: Int) {
            self.name = name
            self.host = host
            self.port = port
        }

        /// The connections' settings, with the session limits of `broker`.
        func stateMachineSettings(broker: Broker.Configuration) -> ConnectionStateMachine.Settings {
            let limits = ConnectNegotiation.Limits(
                maximumSessionExpiry: broker.maximumSessionExpiry, maximumKeepAlive: maximumKeepAlive,
                azureMaximumKeepAlive: azureMaximumKeepAlive, receiveMaximum: receiveMaximum,
                topicAliasMaximum: topicAliasMaximum, maximumPacketSize: decodingLimits.maximumPacketSize,
                maximumInflight: broker.maximumInflight)
            return ConnectionStateMachine.Settings(connectTimeout: connectTimeout, limits: limits)
        }
    }

    private let services: ConnectionServices
    private let tls: TLSContextSlot?
    private let channel: Mutex<(any Channel)?> = Mutex(nil)

    /// Makes a listener; `bind` opens its socket, `run` serves until graceful shutdown.
    public init(
        _ configuration: Configuration, tls: TLSContextSlot?, broker: Broker, authenticator: DeviceAuthenticator,
        authorizer: any Authorizer, limiter: ConnectRateLimiter, pending: PendingConnections, events: EventBus,
        gate: any ConnectionGate = OpenGate(), observer: (any ConnectionObserver)? = nil, clock: any WardenClock,
        logger: Logger
    ) {
        var logger = logger
        logger[metadataKey: "listener"] = "\(configuration.name)"
        self.services = ConnectionServices(
            broker: broker, authenticator: authenticator, authorizer: authorizer, limiter: limiter,
            pending: pending, listener: configuration, clock: clock, logger: logger, connectionIDs: ConnectionIDs(),
            events: events, gate: gate, observer: observer)
        self.tls = tls
    }

    /// Opens the socket, so that a busy port stops start-up before anything runs; returns the bound address.
    public func bind() async throws -> SocketAddress? {
        let services = self.services
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 256 * 1024))
            // Fairness: one read of at most 16 KiB per connection per loop turn (mosquitto reads one packet per
            // socket per turn). A flooding publisher cannot make a turn long, so subscribers on the same loop are
            // flushed and their acknowledgements read every few hundred microseconds (bench/results.md).
            .childChannelOption(.maxMessagesPerRead, value: 1)
            // NIO keeps each connection's read buffer between reads, at the largest size it grew to: a small
            // first size keeps an idle device's small (a CONNECT with a SAS token fits in 512 bytes); a busy
            // connection's grows to 16 KiB within three reads.
            .childChannelOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 16 * 1024)
            )
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.initialize(channel, services: services, tls: tls?.current)
                }
            }
            .bind(host: services.listener.host, port: services.listener.port)
            .get()
        self.channel.withLock { $0 = channel }
        services.logger.info(
            "Listening.", metadata: ["address": "\(services.listener.host):\(channel.localAddress?.port ?? 0)"])
        return channel.localAddress
    }

    /// Serves until graceful shutdown, then stops accepting (live connections close with the process).
    public func run() async throws {
        if channel.withLock({ $0 }) == nil { _ = try await bind() }
        try? await gracefulShutdown()
        try await channel.withLock { $0 }?.close()
    }

    /// Takes an upgraded WebSocket connection from the HTTPS listener (paths `/mqtt` and
    /// `/$iothub/websocket`, subprotocol `mqtt`): it speaks MQTT from here on, already past TLS. A client
    /// certificate presented to the HTTPS port is checked against the tenants' CAs first, as the MQTT listeners
    /// check theirs during the handshake; the connection is not read meanwhile. Runs on the channel's loop.
    public func adoptWebSocket(_ channel: any Channel, presented: PresentedChain) -> EventLoopFuture<Void> {
        let loop = channel.eventLoop
        guard let address = channel.remoteAddress?.ipAddress.flatMap(IPAddress.init) else {
            channel.close(promise: nil)
            return loop.makeSucceededVoidFuture()
        }
        // The same per-address budgets as the MQTT listeners: upgrades in bulk are closed with 1013 (try again
        // later), before a handler or a CONNECT deadline is spent on them.
        // The HTTPS listener counted the TCP connection for the flood rule already.
        guard Self.admit(address, services: services, countsConnection: false) else {
            WebSocketBridge.close(channel, code: .unknown(1013))
            return loop.makeSucceededVoidFuture()
        }
        let services = self.services
        let install: @Sendable () throws -> Void = {
            try Self.releasingOnFailure(address, services: services) {
                // A channel that closed during the chain's check has told its handlers already: one added now
                // would never hear it, and never release the address's pending count.
                guard channel.isActive else { throw ChannelError.ioOnClosedChannel }
                let sync = channel.pipeline.syncOperations
                try sync.addHandler(WebSocketBridge())
                try sync.addHandler(
                    MQTTConnectionHandler(
                        services: services, peerAddress: address, usesTLS: true, presented: presented,
                        overWebSocket: true))
            }
        }
        guard !presented.certificates.isEmpty else { return loop.makeCompletedFuture { try install() } }
        try? channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        let promise = loop.makePromise(of: Void.self)
        Task {
            await services.authenticator.validate(presented, now: services.clock.now())
            promise.completeWith(
                loop.submit {
                    try install()
                    try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
                })
        }
        return promise.futureResult
    }

    /// Spends a connect token of `address` and counts it as pending until CONNECT is accepted; false (with the
    /// limit counted) when either budget refuses it.
    private static func admit(_ address: IPAddress, services: ConnectionServices, countsConnection: Bool = true) -> Bool
    {
        // A banned address is closed before anything is spent on it (counted by the Defender).
        guard services.gate.ban(of: address) == nil else { return false }
        if countsConnection { services.gate.accepted(from: address) }
        guard services.limiter.admit(address, now: .now()) else {
            services.broker.metrics.hit(.connectRatePerIP)
            return false
        }
        if let refusal = services.pending.admit(address) {
            services.broker.metrics.hit(BrokerLimit(refusal))
            return false
        }
        return true
    }

    /// Builds an admitted connection's pipeline; if that fails, the connection no longer counts as pending
    /// (its handler, which would release it, never ran).
    private static func releasingOnFailure(
        _ address: IPAddress, services: ConnectionServices, _ build: () throws -> Void
    ) throws {
        do {
            try build()
        } catch {
            services.pending.release(address)
            throw error
        }
    }

    /// The WebSocket paths MQTT clients use (Azure's and the common one).
    public static let webSocketPaths: Set<String> = ["/mqtt", "/$iothub/websocket"]

    private static func initialize(_ channel: any Channel, services: ConnectionServices, tls: TLSServerContext?) throws
    {
        guard let address = channel.remoteAddress?.ipAddress.flatMap(IPAddress.init) else {
            channel.close(promise: nil)
            return
        }
        guard admit(address, services: services) else {
            channel.close(promise: nil)
            return
        }
        try releasingOnFailure(address, services: services) {
            try addHandlers(channel, address: address, services: services, tls: tls)
        }
    }

    private static func addHandlers(
        _ channel: any Channel, address: IPAddress, services: ConnectionServices, tls: TLSServerContext?
    ) throws {
        let sync = channel.pipeline.syncOperations
        let presented = PresentedChain()
        try sync.addHandler(SocketCloser())
        if let tls {
            let authenticator = services.authenticator
            let clock = services.clock
            // Every presented certificate is accepted at the TLS layer; CONNECT decides with its thumbprint or
            // with what its chain proved here against the tenants' verified CAs.
            try sync.addHandler(
                TLSServerHandler(context: tls) { chain in
                    presented.record(chain)
                    await authenticator.validate(presented, now: clock.now())
                })
        }
        try sync.addHandler(
            MQTTConnectionHandler(services: services, peerAddress: address, usesTLS: tls != nil, presented: presented))
    }
}
