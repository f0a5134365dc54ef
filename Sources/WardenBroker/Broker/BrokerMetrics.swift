import Metrics
import WardenCore
import WardenMQTT

/// The broker's counters and gauges, made once (docs/metrics.md lists each). Labels are bounded: listener,
/// packet type, reason, limit — never a client id, device id, topic or address (STYLE R11.4).
final class BrokerMetrics: Sendable {
    let connections: Gauge
    let sessions: Gauge
    let retainedMessages: Gauge
    let subscriptions: Gauge
    let messagesReceived: Counter
    let messagesDelivered: Counter
    let messagesNotRouted: Counter
    /// Messages delivered to a subscription installed just after they were routed (`RecentMessages`).
    let lateDeliveries: Counter
    private let drops: [OutboundFlow.DropReason: Counter]
    private let limitHits: [BrokerLimit: Counter]

    init() {
        connections = Gauge(label: "warden_mqtt_connections")
        sessions = Gauge(label: "warden_mqtt_sessions")
        retainedMessages = Gauge(label: "warden_mqtt_retained_messages")
        subscriptions = Gauge(label: "warden_mqtt_subscriptions")
        messagesReceived = Counter(label: "warden_mqtt_messages_received_total")
        messagesDelivered = Counter(label: "warden_mqtt_messages_delivered_total")
        messagesNotRouted = Counter(label: "warden_mqtt_messages_unrouted_total")
        lateDeliveries = Counter(label: "warden_mqtt_messages_delivered_late_total")
        drops = Dictionary(
            uniqueKeysWithValues: OutboundFlow.DropReason.allCases.map {
                ($0, Counter(label: "warden_mqtt_messages_dropped_total", dimensions: [("reason", $0.rawValue)]))
            })
        limitHits = Dictionary(
            uniqueKeysWithValues: BrokerLimit.allCases.map {
                ($0, Counter(label: "warden_mqtt_limit_hits_total", dimensions: [("limit", $0.rawValue)]))
            })
    }

    func dropped(_ reason: OutboundFlow.DropReason, count: Int = 1) {
        drops[reason]?.increment(by: count)
    }

    func hit(_ limit: BrokerLimit) {
        limitHits[limit]?.increment()
    }
}

/// Every limit the broker enforces; each refusal increments `warden_mqtt_limit_hits_total{limit=…}`.
enum BrokerLimit: String, Sendable, CaseIterable {
    case packetSize = "packet_size"
    case connections
    case subscriptionsPerSession = "subscriptions_per_session"
    case retainedPerTenant = "retained_per_tenant"
    case receiveMaximum = "receive_maximum"
    case topicAliases = "topic_aliases"
    case connectTimeout = "connect_timeout"
    case connectRatePerIP = "connect_rate_per_ip"
    case pendingPerIP = "pending_per_ip"
    case pendingTotal = "pending_total"
    case keepAlive = "keep_alive"
    case topicLevels = "topic_levels"
    case filtersPerSubscribe = "filters_per_subscribe"
    /// A client's answers filled the socket's write buffer: its reading paused until they drain.
    case unreadClient = "unread_client"
    /// A client's acknowledgements waiting for the store reached the Receive Maximum: its reading paused.
    case awaitingCommit = "awaiting_commit"

    /// The limit a refused pending connection ran into.
    init(_ refusal: PendingConnections.Refusal) {
        switch refusal {
        case .perAddress: self = .pendingPerIP
        case .total: self = .pendingTotal
        }
    }

    /// The limit a packet the decoder refused ran into, if any (the packet size counts by its close reason).
    init?(decoding error: MQTTDecodingError) {
        switch error.rule {
        case "topic.too_many_levels": self = .topicLevels
        case "subscribe.too_many_filters", "unsubscribe.too_many_filters": self = .filtersPerSubscribe
        default: return nil
        }
    }

    /// The limit a connection closed with `reason` ran into, if any.
    init?(closing reason: ReasonCode) {
        switch reason {
        case .packetTooLarge: self = .packetSize
        case .receiveMaximumExceeded: self = .receiveMaximum
        case .topicAliasInvalid: self = .topicAliases
        case .keepAliveTimeout: self = .keepAlive
        case .maximumConnectTime: self = .connectTimeout
        default: return nil
        }
    }
}
