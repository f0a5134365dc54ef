public import Foundation
public import NIOCore
import Synchronization
public import WardenCore
public import WardenMQTT
public import WardenStore

/// What connects this broker to the other nodes of a cluster (WardenCluster installs one): it hears every
/// message routed here, to send on to nodes that subscribe to its topic, and every plain filter and shared group
/// that the sessions here start or stop subscribing to, so that other nodes send this node only what it needs.
///
/// A shared group gets each message once across the nodes: the node it is published on offers it to its own
/// members of every group it matches (`servedGroups`); another node's copy goes to one node with members of a
/// group (a NATS queue group) and is offered to that group there, unless the publishing node served it.
///
/// An implementation only queues, never waits or calls back into the broker: `interest` and a retained message's
/// `forward` are called under the broker's lock.
public protocol ClusterLink: Sendable {
    /// This node's identity in the cluster: its retained messages' stamps name it.
    var node: UUID { get }
    /// A message published on this node (not one that came from another node, not `$SYS`), the shared groups
    /// whose members here took it, and a retained message's stamp.
    func forward(
        _ message: BrokerMessage, in tenantID: TenantID, servedGroups: [SharedGroup], stamp: RetainStamp?,
        now: NIODeadline)
    /// The first session here subscribed to `filter` in `tenantID` (`isAdded`), or the last one left.
    func interest(in tenantID: TenantID, _ filter: String, isAdded: Bool)
    /// The first session here joined `group` in `tenantID` (`isAdded`), or the last one left.
    func interest(in tenantID: TenantID, group: SharedGroup, isAdded: Bool)
}

extension Broker {
    /// Sends what is routed here to other nodes and receives theirs: announces every filter subscribed now,
    /// then each change.
    public func install(cluster link: any ClusterLink) {
        state.withLock { state in
            state.cluster = link
            state.node = link.node
            for (tenantID, filters) in state.interest {
                for filter in filters.keys { link.interest(in: tenantID, filter.topic, isAdded: true) }
            }
            for (tenantID, groups) in state.groupInterest {
                for group in groups.keys { link.interest(in: tenantID, group: group, isAdded: true) }
            }
        }
    }

    /// Routes a message another node published to the plain subscriptions here, as if published here, or, as
    /// `group`'s copy, to one member of that shared group here. It is not sent on again, and a retained one is
    /// kept in memory only (its node stored it), unless a later one of its topic (by `stamp`) is kept here.
    public func publishFromCluster(
        _ message: BrokerMessage, in tenantID: TenantID, stamp: RetainStamp, toGroup group: SharedGroup? = nil
    ) {
        publish(
            message, in: tenantID, now: .now(), fromCluster: true, stamp: stamp,
            groups: group.map { .only($0) } ?? .none)
    }

    /// Takes the store's retained messages and clears that are later than this node's, for a node of a cluster
    /// that may have missed other nodes' ones, and forgets those of which the store holds nothing and that are
    /// older than a clear is kept (their clear was missed, and has gone from the store too). Retained messages
    /// still on their way to the store are newer than that, and stay.
    public func reconcileRetained(_ stored: [StoredRetained], now: Date = Date()) {
        guard let persistence else { return }
        let deadline = NIODeadline.now()
        var held: [TenantID: Set<TopicKey>] = [:]
        for entry in stored {
            held[entry.tenantID, default: []].insert(TopicKey(entry.message.topic))
            guard var message = persistence.message(entry.message, retain: true, now: deadline) else { continue }
            // An expired message is as good as a clear: it goes, unless this node holds a later one.
            if message.isExpired(at: deadline) {
                message = BrokerMessage(
                    topic: message.topic, payload: ByteBuffer(), qos: .atMostOnce, retain: true,
                    properties: Properties(), receivedAt: deadline)
            }
            restoreRetained(message, stamp: entry.stamp, in: entry.tenantID)
        }
        let before = now.unixMicroseconds - StoredRetained.clearsKeptFor
        state.withLock { state in
            for tenantID in state.spaces.keys {
                state.spaces[tenantID]?.forgetRetained(stampedBefore: before, unless: held[tenantID] ?? [])
            }
        }
    }
}

extension Broker.State {
    /// Counts a session's subscription starting (+1) or ending (-1), telling the cluster when a filter or a
    /// shared group gains its first subscriber here or loses its last.
    mutating func countInterest(in tenantID: TenantID, _ filter: TopicFilter, _ delta: Int) {
        if let shareName = filter.shareName {
            let group = SharedGroup(shareName: shareName, filter: filter.filter)
            let count = (groupInterest[tenantID]?[group] ?? 0) + delta
            groupInterest[tenantID, default: [:]][group] = count > 0 ? count : nil
            if groupInterest[tenantID]?.isEmpty == true { groupInterest[tenantID] = nil }
            if delta > 0, count == 1 { cluster?.interest(in: tenantID, group: group, isAdded: true) }
            if delta < 0, count == 0 { cluster?.interest(in: tenantID, group: group, isAdded: false) }
            return
        }
        let key = TopicKey(filter.filter)
        let count = (interest[tenantID]?[key] ?? 0) + delta
        interest[tenantID, default: [:]][key] = count > 0 ? count : nil
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
