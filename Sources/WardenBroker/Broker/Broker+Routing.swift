import CoreMetrics
import Foundation
import NIOCore
import Synchronization
public import WardenCore
import WardenMQTT
import WardenStore

/// Routing: a client's or a device's message through the hub and into the tenant's topic space, and the hub's
/// messages to one device.
extension Broker {
    /// What became of a client's message.
    struct Published {
        /// Why it was refused, if it was: the hub's reason, or the tenant's retained limit.
        var refusal: (code: ReasonCode, why: String)?
        /// Whether anything took it: a subscriber, or the hub (which stores a device's telemetry). A 5.0
        /// acknowledgement says 0x10 (No matching subscribers) otherwise.
        var wasTaken: Bool
        /// The commit that makes what it changed durable; the acknowledgement waits for it (nil: nothing to wait
        /// for).
        var ticket: UInt64?
    }

    /// Routes a device's PUBLISH through the hub, if one is installed: its changes are recorded first, then
    /// what it returns is routed.
    func publish(_ message: BrokerMessage, from sender: DeviceSender, isWill: Bool = false, now: NIODeadline)
        -> Published
    {
        guard let handler = deviceTraffic.withLock({ $0 }) else {
            return publish(message, in: sender.tenantID, now: now).published
        }
        let outcome = handler.received(message, from: sender, isWill: isWill)
        if let refusal = outcome.refusal {
            return Published(refusal: (.topicNameInvalid, refusal), wasTaken: false, ticket: nil)
        }
        let ticket = outcome.changes.isEmpty ? nil : persistence?.record(outcome.changes)
        if let afterCommit = outcome.afterCommit {
            // What was recorded before (by anyone) may still be on its way; its commit comes first.
            let after = ticket ?? persistence?.recordedCount
            if let persistence, let after { persistence.whenCommitted(after, afterCommit) } else { afterCommit() }
        }
        guard let route = outcome.route else { return Published(refusal: nil, wasTaken: true, ticket: ticket) }
        var published = publish(route, in: sender.tenantID, now: now).published
        published.wasTaken = published.wasTaken || !outcome.changes.isEmpty
        published.ticket = [published.ticket, ticket].compactMap { $0 }.max()
        return published
    }

    /// What routing one message did.
    struct Routed {
        /// False when a retained message was refused by the tenant's retained limit.
        var retainAccepted = true
        /// The sessions it was offered to.
        var matched = 0
        /// The commit that makes the stored retained message and queued copies durable; nil when none.
        var ticket: UInt64?

        mutating func include(_ ticket: UInt64?) {
            if let ticket { self.ticket = max(self.ticket ?? 0, ticket) }
        }

        var published: Published {
            Published(
                refusal: retainAccepted
                    ? nil : (.quotaExceeded, "the tenant's retained message limit is reached"),
                wasTaken: matched > 0, ticket: ticket)
        }
    }

    /// Routes `message` within `tenantID`: keeps or clears it as retained, then offers it to every matching
    /// session, and to the other nodes of a cluster. `isSystem` marks the broker's own `$SYS` figures: not
    /// counted, not stored, not limited, not sent on; `fromCluster` one another node published (and stored),
    /// offered to the shared groups `groups` names, retained as of `stamp` (its node's).
    @discardableResult
    func publish(
        _ message: BrokerMessage, in tenantID: TenantID, now: NIODeadline, isSystem: Bool = false,
        fromCluster: Bool = false, stamp remoteStamp: RetainStamp? = nil, groups: TopicSpace.GroupSelection = .all
    ) -> Routed {
        if !isSystem { metrics.messagesReceived.increment() }
        var routed = Routed()
        // The shared groups a member here took the message for: other nodes' members of those groups do not.
        var served: [SharedGroup] = []
        let (targets, cluster) = state.withLock { state -> ([TopicSpace.Target], (any ClusterLink)?) in
            var stamp: RetainStamp?
            // A group's copy from another node is not the retained copy: that one came too, for the plain
            // subscriptions.
            if message.retain, groups.includesPlain {
                var retainStamp =
                    remoteStamp ?? RetainStamp(time: state.retainClock.next(now: Date()), node: state.node)
                // Another node's message was within its tenant's limit there: refused here, the nodes would differ.
                let retaining = state.spaces[tenantID, default: TopicSpace()].retain(
                    message, stamp: &retainStamp, isLocal: remoteStamp == nil,
                    limit: isSystem || fromCluster
                        ? .none
                        : .init(
                            topics: configuration.maximumRetainedPerTenant,
                            bytes: configuration.maximumRetainedBytesPerTenant),
                    keptClears: state.cluster == nil ? nil : configuration.maximumRetainedPerTenant)
                state.retainClock.observe(retainStamp.time)
                stamp = retainStamp
                routed.retainAccepted = retaining != .refused
                if retaining == .kept, !isSystem, !fromCluster, let persistence {
                    routed.ticket = persistence.record([
                        .putRetained(
                            StoredRetained(
                                tenantID: tenantID, message: persistence.stored(message, now: now), stamp: retainStamp))
                    ])
                }
                metrics.retainedMessages.record(state.spaces.values.reduce(0) { $0 + $1.retained.count })
            }
            // A retained message reaches later subscriptions as retain handling says, never as a recent one.
            let keepsRecent = configuration.lateSubscriptionWindow > .zero && !message.retain && groups.includesPlain
            let recent = keepsRecent ? (configuration.lateSubscriptionWindow, configuration.lateSubscriptionBytes) : nil
            // Counted once, where it was published: `$SYS` sums the nodes' counts.
            let receivedHere = !isSystem && !fromCluster
            let targets =
                receivedHere
                ? state.spaces[tenantID, default: TopicSpace()].route(
                    message, groups: groups, served: &served, isSystem: isSystem, receivedHere: true, recent: recent,
                    now: now)
                : state.spaces[tenantID]?.route(
                    message, groups: groups, served: &served, isSystem: isSystem, receivedHere: false, recent: recent,
                    now: now) ?? []
            // Other nodes get what is published here; a retained message the tenant's limit refused is not kept
            // anywhere, so it does not travel either. A retained one goes under the lock, so that its stamp and
            // its place on the wire follow the same order; the rest after it, off the path other connections'
            // messages wait on.
            let cluster = isSystem || fromCluster || !routed.retainAccepted ? nil : state.cluster
            if message.retain { cluster?.forward(message, in: tenantID, servedGroups: served, stamp: stamp, now: now) }
            return (targets, message.retain ? nil : cluster)
        }
        cluster?.forward(message, in: tenantID, servedGroups: served, stamp: nil, now: now)
        if !routed.retainAccepted { metrics.hit(.retainedPerTenant) }
        if targets.isEmpty { metrics.messagesNotRouted.increment() }
        routed.matched = targets.count
        for target in targets {
            if let receiveCheck, !receiveCheck.allows(message.topic, to: target.session) {
                metrics.dropped(.notAuthorized)
                continue
            }
            let delivery = Delivery(
                message: message, qos: min(message.qos, target.options.qos),
                retain: target.options.retainAsPublished && message.retain, subscriptionIdentifiers: target.identifiers)
            routed.include(deliver(delivery, to: target.session, now: now))
        }
        return routed
    }

    /// Offers one delivery to one session, counting the outcome; returns the commit that stores it, if any.
    @discardableResult
    func deliver(_ delivery: Delivery, to session: Session, now: NIODeadline) -> UInt64? {
        let (dropped, ticket) = session.deliver(delivery, now: now)
        if let dropped {
            metrics.dropped(dropped)
        } else {
            metrics.messagesDelivered.increment()
        }
        return ticket
    }

    /// Hands a hub message to the connected session of device `deviceID` when one of its subscriptions matches
    /// the topic and the policy lets it receive there, at QoS 1 at most. False when the device is not connected,
    /// not subscribed, not allowed, or the session refused it (queue full): the hub keeps the message and tries
    /// again when the device is ready.
    public func deliver(_ message: BrokerMessage, toDevice deviceID: DeviceID, in tenantID: TenantID) -> Bool {
        // The hub builds these topics; each builder refuses what MQTT cannot carry, and this keeps a missed
        // case to one dropped message.
        guard message.topic.utf8.count <= MQTTEncoder.maximumStringBytes else {
            metrics.dropped(.unencodable)
            return false
        }
        let now = NIODeadline.now()
        guard let session = state.withLock({ $0.sessions[SessionKey(tenantID: tenantID, clientID: deviceID.rawValue)] })
        else { return false }
        let qos = session.withState { state -> QoS? in
            guard state.sink != nil else { return nil }
            return state.subscriptions.compactMap { filter, options in
                filter.matches(message.topic) ? options.qos : nil
            }.max()
        }
        guard let qos else { return false }
        if let receiveCheck, !receiveCheck.allows(message.topic, to: session) {
            metrics.dropped(.notAuthorized)
            return false
        }
        let delivery = Delivery(
            message: message, qos: min(qos, .atLeastOnce), retain: false, subscriptionIdentifiers: [])
        if let reason = session.deliver(delivery, now: now).dropped {
            metrics.dropped(reason)
            return false
        }
        metrics.messagesDelivered.increment()
        return true
    }

    /// Routes a message the hub itself publishes (feedback records for services) in `tenantID`'s topic space.
    public func publishFromHub(_ message: BrokerMessage, in tenantID: TenantID) {
        publish(message, in: tenantID, now: .now())
    }

    /// Routes a device's message that arrived another way (HTTPS) like its PUBLISH; returns the refusal, if
    /// any, and the persistence ticket to wait for before acknowledging (nil: nothing to wait for).
    public func publishOnBehalf(of sender: DeviceSender, _ message: BrokerMessage) -> (
        refusal: String?, ticket: UInt64?
    ) {
        guard message.topic.utf8.count <= MQTTEncoder.maximumStringBytes else {
            return ("The topic with its properties exceeds \(MQTTEncoder.maximumStringBytes) bytes.", nil)
        }
        let published = publish(message, from: sender, now: .now())
        return (published.refusal?.why, published.ticket)
    }

}
