import Logging
import Metrics
import Synchronization
import WardenAMQP
import WardenBroker
import WardenCore
import WardenHub

/// What every connection of the endpoint shares.
struct AMQPEndpointServices: Sendable {
    let gateway: DeviceGateway
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

/// `warden_amqp_connections_total` and `warden_amqp_connections_refused_total{condition}` (docs/metrics.md).
final class AMQPEndpointMetrics: Sendable {
    private let accepted = Counter(label: "warden_amqp_connections_total")

    func opened() {
        accepted.increment()
    }

    /// A connection closed for breaking a rule or a limit, by the AMQP condition it was told.
    func refused(_ condition: AMQPCondition) {
        Counter(label: "warden_amqp_connections_refused_total", dimensions: [("condition", condition.rawValue)])
            .increment()
    }
}
