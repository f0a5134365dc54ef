import Logging
import Metrics
import WardenAMQP
import WardenBroker
import WardenCore
import WardenHub

/// What every connection of the endpoint shares.
struct AMQPEndpointServices: Sendable {
    let gateway: DeviceGateway
    let settings: AMQPEndpointSettings
    let pending: PendingConnections
    /// The connect budget per address, refunded when a connection authenticates a device (as MQTT's).
    let limiter: ConnectRateLimiter
    let clock: any WardenClock
    let logger: Logger
    let metrics: AMQPEndpointMetrics
    let revocation: AMQPLiveRevocation
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
