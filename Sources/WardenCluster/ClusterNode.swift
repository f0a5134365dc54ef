public import Foundation
public import Logging
public import NIOCore
public import NIOSSL
public import ServiceLifecycle
import Synchronization
public import WardenBroker
public import WardenCore
public import WardenDefender
public import WardenHub
public import WardenNATS
public import WardenStore

/// This node's part in a cluster (docs/scaling.md): one NATS connection that carries routed MQTT messages
/// (`ClusterRouting`), sessions moving between nodes (`ClusterSessions`) and the event notices
/// (`ClusterEvents`), for as long as the service group runs.
public final class ClusterNode: Service {
    public struct Configuration: Sendable {
        public var servers: [NATSClient.Server]
        /// The connection's name in NATS's monitoring (the node's name).
        public var name: String
        public var user: String?
        public var password: String?
        /// Bytes waiting for the NATS connection before messages are dropped and counted.
        public var outboundLimit = 8 * 1024 * 1024
        /// TLS to the servers (`NATSClient.Configuration.tls`).
        public var tls: TLSConfiguration?

        public init(servers: [NATSClient.Server], name: String) {
            self.servers = servers
            self.name = name
        }
    }

    /// The node's identity for this run.
    public let id: UUID
    private let nats: NATSClient
    private let routing: ClusterRouting
    private let sessions: ClusterSessions
    private let events: ClusterEvents
    private let group: any EventLoopGroup
    private let feed = Mutex<ClusterFeed?>(nil)
    private let defenderCounts = Mutex<Task<Void, Never>?>(nil)
    private let logger: Logger

    /// `resynchronize` reads again, from the store, every cache that follows other nodes' notices: it runs
    /// after each connection to NATS (the first included: what changed while this node started was not heard)
    /// and after notices were dropped.
    public init(
        id: UUID, configuration: Configuration, broker: Broker, bus: EventBus, store: any HubStore,
        maximumPacketSize: Int, group: any EventLoopGroup, logger: Logger,
        resynchronize: @escaping @Sendable () async throws -> Void
    ) {
        self.id = id
        self.group = group
        self.logger = logger
        var settings = NATSClient.Configuration(servers: configuration.servers, name: configuration.name)
        settings.user = configuration.user
        settings.password = configuration.password
        settings.outboundLimit = configuration.outboundLimit
        settings.tls = configuration.tls
        // A routed message is an MQTT packet and its envelope; NATS's own limit (1 MiB by default) is checked
        // per message by the client.
        settings.parser = NATSOperationParser(maximumPayload: maximumPacketSize + 1024)
        nats = NATSClient(configuration: settings, group: group, logger: logger)
        routing = ClusterRouting(
            node: id, nats: nats, broker: broker, maximumPacketSize: maximumPacketSize, logger: logger)
        sessions = ClusterSessions(
            node: id, name: configuration.name, nats: nats, broker: broker, store: store, logger: logger)
        events = ClusterEvents(
            node: id, nats: nats, bus: bus, store: store, logger: logger, resynchronize: resynchronize)
        nats.whenConnected { [events] in events.connected() }
        // Installed in the broker now, before the listeners open: a CONNECT that comes before NATS is up must
        // already ask for its session (and be refused when the request cannot go), never take it unseen.
        routing.start()
        sessions.start()
    }

    /// Answers other nodes' direct-method calls for the devices connected here, and sends `methods`' calls for
    /// devices connected elsewhere to the other nodes (`otherNodes` counts them).
    public func relayMethods(
        _ methods: MethodService, otherNodes: @escaping @Sendable () -> Int,
        recount: @escaping @Sendable () async -> Int
    ) {
        ClusterMethods(
            node: id, nats: nats, methods: methods, otherNodes: otherNodes, recount: recount, logger: logger
        ).start()
    }

    /// Asks the other nodes what they know of connections, for `presence` (`ClusterPresence`).
    public func relayPresence(
        _ presence: DevicePresence, otherNodes: @escaping @Sendable () -> Int,
        recount: @escaping @Sendable () async -> Int
    ) {
        ClusterPresence(
            node: id, nats: nats, presence: presence, otherNodes: otherNodes, recount: recount, logger: logger
        ).start()
    }

    /// Shares the Defender's threshold counts with the other nodes every second (`ClusterDefenderCounts`).
    public func shareCounts(of defender: DefenderService) {
        let task = ClusterDefenderCounts(node: id, nats: nats, defender: defender, logger: logger).start()
        defenderCounts.withLock { $0 = task }
    }

    /// Reads a moved session's device twin again before its CONNACK: a reported patch the other node committed
    /// just before it let the session go may not have been told here yet, and the device's next patch builds on
    /// this node's copy.
    public func refreshTwinsOfMovedSessions(_ twins: TwinService, from store: any TwinStore) {
        sessions.whenMoved { key in
            guard let deviceID = try? DeviceID(key.clientID) else { return }
            try? await twins.refresh(key.tenantID, deviceID, from: store)
        }
    }

    /// Sums `$SYS` figures over the nodes (`ClusterSystemFigures`), for `SystemTopics`.
    public func relaySystemFigures() -> any SystemFiguresRelay {
        let relay = ClusterSystemFigures(node: id, nats: nats)
        relay.start()
        return relay
    }

    /// Carries `feed`'s followers to the other nodes and their telemetry to `feed` (`ClusterFeed`).
    public func relayFeed(_ feed: TelemetryFeed, store: any TelemetryStore) {
        let relay = ClusterFeed(node: id, nats: nats, feed: feed, logger: logger)
        relay.start(store: store, on: group.next())
        self.feed.withLock { $0 = relay }
    }

    /// Whether the node is connected to NATS and has heard, or read, every other node's change (`/readyz`).
    public var isReady: Bool { nats.isConnected && !events.isBehind }

    /// Connects to NATS, routes and relays until the service group stops, then closes the connection.
    public func run() async throws {
        events.start()
        nats.start()
        try await events.run()
        feed.withLock { $0 }?.stop()
        defenderCounts.withLock { $0 }?.cancel()
        await nats.shutdown()
    }
}
