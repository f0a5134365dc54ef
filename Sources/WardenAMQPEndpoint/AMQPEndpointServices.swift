import Logging
import Metrics
import Synchronization
import WardenAMQP
import WardenBroker
import WardenCore
import WardenHub

/// What every connection of the endpoint shares.
struct AMQPEndpointServices: Sendable {
    var gateway: DeviceGateway
    let methods: MethodService
    let twins: TwinService
    let settings: AMQPEndpointSettings
    let pending: PendingConnections
    /// The connect budget per address, refunded when a connection authenticates a device (as MQTT's).
    let limiter: ConnectRateLimiter
    let clock: any WardenClock
    let logger: Logger
    let metrics: AMQPEndpointMetrics
    let revocation: AMQPLiveRevocation
    let connections: AMQPConnectionCount
}

/// The endpoint's connections past admission, against `AMQPEndpointSettings.maximumConnections`.
final class AMQPConnectionCount: Sendable {
    private let count = Atomic<Int>(0)

    /// Counts one more, unless `maximum` are open.
    func add(maximum: Int) -> Bool {
        let added = count.add(1, ordering: .relaxed).newValue
        guard added <= maximum else {
            count.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func remove() {
        count.subtract(1, ordering: .relaxed)
    }
}

/// A limit of the endpoint that refuses something without closing the connection.
enum AMQPLimit: String, CaseIterable {
    case putTokensAtOnce = "put_tokens_at_once"
    case devicesPerConnection = "devices_per_connection"
    case tokenRepliesWaiting = "token_replies_waiting"
    case methodCallsWaiting = "method_calls_waiting"
    case twinRequests = "twin_requests"
    case twinAnswersWaiting = "twin_answers_waiting"
}

/// `warden_amqp_connections_total`, `warden_amqp_connections_refused_total{condition}` and
/// `warden_amqp_limit_hits_total{limit}` (docs/metrics.md).
final class AMQPEndpointMetrics: Sendable {
    private let accepted = Counter(label: "warden_amqp_connections_total")
    private let hits = Dictionary(
        uniqueKeysWithValues: AMQPLimit.allCases.map {
            ($0, Counter(label: "warden_amqp_limit_hits_total", dimensions: [("limit", $0.rawValue)]))
        })

    /// A refusal by `limit`.
    func hit(_ limit: AMQPLimit) {
        hits[limit]?.increment()
    }

    func opened() {
        accepted.increment()
    }

    /// A connection closed for breaking a rule or a limit, by the AMQP condition it was told.
    func refused(_ condition: AMQPCondition) {
        Counter(label: "warden_amqp_connections_refused_total", dimensions: [("condition", condition.rawValue)])
            .increment()
    }
}
