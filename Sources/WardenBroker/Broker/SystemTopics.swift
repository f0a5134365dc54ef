public import NIOCore
public import ServiceLifecycle
public import WardenCore
import WardenMQTT

/// Publishes broker statistics under `$SYS/broker/…` into each tenant's topic space, as retained QoS 0
/// messages every `interval` (issue 3, "$SYS"). Each tenant sees only its own figures; who may subscribe is
/// the authorizer's call (devices may not; anonymous clients of a development listener may). On a node of a
/// cluster the figures are the whole cluster's (`SystemFiguresRelay`); the version and uptime are the node's.
public struct SystemTopics: Service {
    private let broker: Broker
    private let interval: TimeAmount
    private let version: String
    private let relay: (any SystemFiguresRelay)?
    private let started = NIODeadline.now()

    public init(broker: Broker, interval: TimeAmount, version: String, relay: (any SystemFiguresRelay)? = nil) {
        self.broker = broker
        self.interval = interval
        self.version = version
        self.relay = relay
    }

    public func run() async throws {
        guard interval > .zero else { return }
        let interval = Duration.nanoseconds(self.interval.nanoseconds)
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                publish(now: .now())
                try await Task.sleep(for: interval)
            }
        }
    }

    /// One round of figures, for every tenant with a session here.
    func publish(now: NIODeadline) {
        let uptime = (now - started).nanoseconds / 1_000_000_000
        let here = broker.tenantFigures()
        let elsewhere = relay?.exchange(here, lasting: .nanoseconds(interval.nanoseconds) * 3) ?? [:]
        for (tenantID, var figures) in here {
            if let other = elsewhere[tenantID] { figures.add(other) }
            let values: [(String, String)] = [
                ("version", "warden \(version)"),
                ("uptime", "\(uptime) seconds"),
                ("clients/connected", "\(figures.connected)"),
                ("clients/total", "\(figures.sessions)"),
                ("subscriptions/count", "\(figures.subscriptions)"),
                ("retained messages/count", "\(figures.retained)"),
                ("messages/received", "\(figures.received)"),
                ("messages/sent", "\(figures.delivered)"),
            ]
            for (name, value) in values {
                let message = BrokerMessage(
                    topic: "$SYS/broker/" + name, payload: ByteBuffer(string: value), qos: .atMostOnce, retain: true,
                    properties: Properties(), receivedAt: now, publisher: nil)
                broker.publish(message, in: tenantID, now: now, isSystem: true)
            }
        }
    }
}

/// What `$SYS/broker/…` reports for a tenant: on one node, or summed over the nodes of a cluster.
public struct TenantFigures: Sendable, Codable, Equatable {
    public var connected = 0
    public var sessions = 0
    public var subscriptions = 0
    /// Retained messages are kept on every node: the count is the same everywhere, not summed.
    public var retained = 0
    public var received = 0
    public var delivered = 0

    public init(
        connected: Int = 0, sessions: Int = 0, subscriptions: Int = 0, retained: Int = 0, received: Int = 0,
        delivered: Int = 0
    ) {
        self.connected = connected
        self.sessions = sessions
        self.subscriptions = subscriptions
        self.retained = retained
        self.received = received
        self.delivered = delivered
    }

    /// Adds another node's figures; whatever they say (below nothing, past any bound), nothing traps and no figure
    /// goes down.
    public mutating func add(_ other: TenantFigures) {
        func sum(_ a: Int, _ b: Int) -> Int {
            let (total, overflow) = a.addingReportingOverflow(max(b, 0))
            return overflow ? .max : total
        }
        connected = sum(connected, other.connected)
        sessions = sum(sessions, other.sessions)
        subscriptions = sum(subscriptions, other.subscriptions)
        retained = max(retained, other.retained)
        received = sum(received, other.received)
        delivered = sum(delivered, other.delivered)
    }
}

/// Where a node's `$SYS` figures meet the other nodes' (WardenCluster installs one).
public protocol SystemFiguresRelay: Sendable {
    /// Sends this node's figures to the other nodes, and returns what the others last sent, summed per tenant;
    /// another node's word counts for `lasting` unless it sends again.
    func exchange(_ here: [TenantID: TenantFigures], lasting: Duration) -> [TenantID: TenantFigures]
}
