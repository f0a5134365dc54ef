public import NIOCore
import Synchronization
public import WardenCore
public import WardenMQTT

/// What connects this broker to the other nodes of a cluster (WardenCluster installs one): it hears every
/// message routed here, to send on to nodes that subscribe to its topic, and every plain filter that the
/// sessions here start or stop subscribing to, so that other nodes send this node only what it needs.
///
/// An implementation only queues, never waits or calls back into the broker: `interest` and a retained message's
/// `forward` are called under the broker's lock.
public protocol ClusterLink: Sendable {
    /// A message published on this node (not one that came from another node, not `$SYS`).
    func forward(_ message: BrokerMessage, in tenantID: TenantID, now: NIODeadline)
    /// The first session here subscribed to `filter` in `tenantID` (`isAdded`), or the last one left.
    func interest(in tenantID: TenantID, _ filter: String, isAdded: Bool)
}

extension Broker {
    /// Sends what is routed here to other nodes and receives theirs: announces every filter subscribed now,
    /// then each change.
    public func install(cluster link: any ClusterLink) {
        state.withLock { state in
            state.cluster = link
            for (tenantID, filters) in state.interest {
                for filter in filters.keys { link.interest(in: tenantID, filter, isAdded: true) }
            }
        }
    }

    /// Routes a message another node published to the sessions here, as if published here; it is not sent on
    /// again, and a retained one is kept in memory only (its node stored it).
    public func publishFromCluster(_ message: BrokerMessage, in tenantID: TenantID) {
        publish(message, in: tenantID, now: .now(), fromCluster: true)
    }
}

extension Broker.State {
    /// Counts a session's plain subscription starting (+1) or ending (-1), telling the cluster when a filter
    /// gains its first subscriber or loses its last. Shared subscriptions stay on their node (see
    /// docs/scaling.md).
    mutating func countInterest(in tenantID: TenantID, _ filter: TopicFilter, _ delta: Int) {
        guard filter.shareName == nil else { return }
        let count = (interest[tenantID]?[filter.filter] ?? 0) + delta
        interest[tenantID, default: [:]][filter.filter] = count > 0 ? count : nil
        if interest[tenantID]?.isEmpty == true { interest[tenantID] = nil }
        if delta > 0, count == 1 { cluster?.interest(in: tenantID, filter.filter, isAdded: true) }
        if delta < 0, count == 0 { cluster?.interest(in: tenantID, filter.filter, isAdded: false) }
    }
}

extension BrokerMessage {
    /// The message as a 5.0 PUBLISH for another node: topic, QoS, RETAIN, forwarded properties, the expiry
    /// left and the payload (packet id 1 when QoS asks for one; the receiver assigns its own).
    public func packetForCluster(now: NIODeadline) -> PublishPacket {
        packet(qos: qos, packetID: qos == .atMostOnce ? nil : 1, retain: retain, subscriptionIdentifiers: [], now: now)
    }
}
