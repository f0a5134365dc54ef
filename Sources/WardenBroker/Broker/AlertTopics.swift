import NIOCore
public import WardenCore
import WardenMQTT

/// The Defender's alerts of a tenant, published in its own topic space (issue 16) for its services: every
/// change of an alert (raised, counted again, acknowledged, resolved) on `$warden/alerts/{severity}/{rule}` at
/// QoS 1, not retained, as the webhook's body. Alerts of no tenant (source addresses) stay with the platform's
/// operators: the webhook, the API and the portal.
public struct AlertTopics: Sendable {
    let broker: Broker

    public init(broker: Broker) { self.broker = broker }

    /// The topic an alert is published on.
    public static func topic(of alert: Alert) -> String {
        "$warden/alerts/\(alert.severity.rawValue)/\(alert.rule)"
    }

    /// Publishes this node's alerts (a resolution told by another node was published there, to every node).
    public func follow(_ bus: EventBus) {
        bus.observeThisNode { event in
            guard case .alertChanged(let alert) = event, let tenantID = alert.tenantID else { return }
            broker.publishFromHub(
                BrokerMessage(
                    topic: Self.topic(of: alert), payload: ByteBuffer(bytes: alert.messageBody), qos: .atLeastOnce,
                    retain: false, properties: Properties(), receivedAt: .now(), publisher: nil),
                in: tenantID)
        }
    }
}
