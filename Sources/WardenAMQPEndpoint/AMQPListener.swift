public import Logging
public import NIOCore
import NIOPosix
import NIOSSL
public import ServiceLifecycle
import Synchronization
import WardenAMQP
public import WardenBroker
public import WardenCore
public import WardenHub

/// The AMQPS listening socket (port 5671) as a lifecycle service: it accepts, spends the source address's
/// connect budget before TLS (the same budgets as the MQTT listeners), and hands each connection to an
/// `AMQPConnectionHandler`.
public final class AMQPListener: Service, Sendable {
    private let host: String
    private let port: Int
    private let services: AMQPEndpointServices
    private let tls: TLSContextSlot
    private let limiter: ConnectRateLimiter
    private let gate: any ConnectionGate
    private let channel: Mutex<(any Channel)?> = Mutex(nil)

    public init(
        host: String, port: Int, settings: AMQPEndpointSettings, tls: TLSContextSlot, hub: HubServices,
        limiter: ConnectRateLimiter, pending: PendingConnections, gate: any ConnectionGate, events: EventBus,
        clock: any WardenClock, logger: Logger
    ) {
        var logger = logger
        logger[metadataKey: "listener"] = "amqps"
        self.host = host
        self.port = port
        self.tls = tls
        self.limiter = limiter
        self.gate = gate
        let gateway = hub.devices.speaking("amqp")
        let revocation = AMQPLiveRevocation(gateway: gateway)
        revocation.follow(events)
        services = AMQPEndpointServices(
            gateway: gateway, methods: hub.methods, twins: hub.twins, settings: settings, pending: pending,
            limiter: limiter,
            clock: clock, logger: logger,
            metrics: AMQPEndpointMetrics(), revocation: revocation, connections: AMQPConnectionCount())
    }

    /// Opens the socket, so that a busy port stops start-up; returns the bound address.
    public func bind() async throws -> SocketAddress? {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.initialize(channel) }
            }
            .bind(host: host, port: port)
            .get()
        self.channel.withLock { $0 = channel }
        services.logger.info("Listening.", metadata: ["address": "\(host):\(channel.localAddress?.port ?? 0)"])
        return channel.localAddress
    }

    /// Serves until graceful shutdown, then stops accepting.
    public func run() async throws {
        if channel.withLock({ $0 }) == nil { _ = try await bind() }
        try? await gracefulShutdown()
        try await channel.withLock { $0 }?.close()
    }

    private func initialize(_ channel: any Channel) throws {
        guard let address = channel.remoteAddress?.ipAddress.flatMap(IPAddress.init),
            gate.ban(of: address) == nil
        else {
            channel.close(promise: nil)
            return
        }
        gate.accepted(from: address)
        guard limiter.admit(address, now: .now()), services.pending.admit(address) == nil else {
            services.metrics.refused(.resourceLimitExceeded)
            channel.close(promise: nil)
            return
        }
        guard services.connections.add(maximum: services.settings.maximumConnections) else {
            services.pending.release(address)
            services.metrics.refused(.resourceLimitExceeded)
            channel.close(promise: nil)
            return
        }
        services.metrics.opened()
        do {
            let sync = channel.pipeline.syncOperations
            // The listeners' context asks for a client certificate (optional). A presented chain is accepted at
            // the TLS layer and kept: an X.509 device's link is decided with it against the tenants' CAs (and
            // without this callback a chain the system's trust store does not know would fail the handshake).
            let presented = ClientChain()
            try sync.addHandler(
                NIOSSLServerHandler(
                    context: tls.current,
                    customVerificationCallback: { certificates, promise in
                        presented.chain = certificates.compactMap { try? $0.toDERBytes() }
                        promise.succeed(.certificateVerified)
                    }))
            try sync.addHandler(AMQPConnectionHandler(services: services, peerAddress: address, presented: presented))
        } catch {
            services.pending.release(address)
            services.connections.remove()
            throw error
        }
    }
}

/// The client certificate chain a connection presented in its TLS handshake (DER, leaf first).
final class ClientChain: Sendable {
    private let certificates = Mutex<[[UInt8]]?>(nil)

    /// Nil until a non-empty chain was presented.
    var chain: [[UInt8]]? {
        get { certificates.withLock { $0 } }
        set { certificates.withLock { $0 = newValue?.isEmpty == true ? nil : newValue } }
    }
}
