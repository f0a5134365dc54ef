public import Logging
public import NIOCore
import NIOPosix
import NIOWebSocket
public import ServiceLifecycle
import Synchronization
import WardenAMQP
public import WardenAuthentication
public import WardenBroker
public import WardenCore
public import WardenHub
public import WardenTLS

/// The AMQPS listening socket (port 5671) as a lifecycle service: it accepts, spends the source address's
/// connect budget before TLS (the same budgets as the MQTT listeners), and hands each connection to an
/// `AMQPConnectionHandler`. It also takes the AMQP connections the HTTPS port upgrades to WebSocket.
public final class AMQPListener: Service, Sendable {
    private let host: String
    private let port: Int
    private let services: AMQPEndpointServices
    /// The same, for connections over WebSocket: their requests name the protocol `amqp-ws`.
    private let webSocketServices: AMQPEndpointServices
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
        var webSocketServices = services
        webSocketServices.gateway = hub.devices.speaking("amqp-ws")
        self.webSocketServices = webSocketServices
    }

    /// The largest AMQP frame the endpoint reads: a WebSocket frame carrying AMQP may be as large.
    public var maximumFrameSize: Int { services.settings.maximumFrameSize }

    /// The WebSocket paths AMQP clients use: the Azure IoT C and C# SDKs' and uAMQP's (Service Bus's).
    public static let webSocketPaths: Set<String> = [
        "/$iothub/websocket", "/$servicebus/websocket", "/$servicebus/websocket/",
    ]

    /// The WebSocket subprotocols of AMQP: Azure's name and the AMQP WebSocket Binding's.
    public static let webSocketProtocols: Set<String> = ["AMQPWSB10", "amqp"]

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
        guard admit(address, services) else {
            channel.close(promise: nil)
            return
        }
        try serve(channel, address, services) { sync, presented in
            // The listeners' context asks for a client certificate (optional). A presented chain is accepted at
            // the TLS layer and kept: an X.509 device's link is decided with it against the tenants' CAs.
            try sync.addHandler(TLSServerHandler(context: tls.current) { presented.record($0) })
        }
    }

    /// Takes a connection the HTTPS listener upgraded to WebSocket (`webSocketPaths`, a subprotocol of
    /// `webSocketProtocols`): it speaks AMQP from here on, past TLS, with the certificate chain presented to the
    /// HTTPS port. The same budgets as this listener's own connections; refused with 1013 (try again later).
    public func adoptWebSocket(_ channel: any Channel, presented: PresentedChain) throws {
        guard let address = channel.remoteAddress?.ipAddress.flatMap(IPAddress.init) else {
            channel.close(promise: nil)
            return
        }
        // The HTTPS listener counted the connection for the flood rule.
        guard gate.ban(of: address) == nil, admit(address, webSocketServices) else {
            WebSocketBridge.close(channel, code: .unknown(1013))
            return
        }
        try serve(channel, address, webSocketServices, presented: presented) { sync, _ in
            try sync.addHandler(WebSocketBridge())
        }
    }

    /// Spends a connect token of `address` and counts it as pending and as one of the endpoint's connections;
    /// false (counted) when a budget refuses it.
    private func admit(_ address: IPAddress, _ services: AMQPEndpointServices) -> Bool {
        guard limiter.admit(address, now: .now()), services.pending.admit(address) == nil else {
            services.metrics.refused(.resourceLimitExceeded)
            return false
        }
        guard services.connections.add(maximum: services.settings.maximumConnections) else {
            services.pending.release(address)
            services.metrics.refused(.resourceLimitExceeded)
            return false
        }
        services.metrics.opened()
        return true
    }

    /// Installs the transport's handlers (`transport`, which may record the chain) and the connection handler
    /// on an admitted connection; if that fails, the connection no longer counts (its handler never ran).
    private func serve(
        _ channel: any Channel, _ address: IPAddress, _ services: AMQPEndpointServices,
        presented: PresentedChain = PresentedChain(),
        transport: (ChannelPipeline.SynchronousOperations, PresentedChain) throws -> Void
    ) throws {
        do {
            let sync = channel.pipeline.syncOperations
            try transport(sync, presented)
            try sync.addHandler(AMQPConnectionHandler(services: services, peerAddress: address, presented: presented))
        } catch {
            services.pending.release(address)
            services.connections.remove()
            throw error
        }
    }
}
