import Foundation
import NIOCore
import WardenCore
import WardenMQTT
public import WardenStore

extension Broker {
    /// Takes up what the store held at start-up: retained messages, and persistent sessions (disconnected)
    /// with their subscriptions, in-flight messages (same packet ids and phases) and queues. Sessions and
    /// messages that expired while the broker was down are dropped from the store. A node of a cluster takes
    /// up only the sessions it held: another node's stay with it, or in the store until their clients return.
    public func restore(_ snapshot: MQTTStateSnapshot) {
        guard let persistence else { return }
        let now = NIODeadline.now()
        let wallNow = persistence.clock.now()
        var changes: [DeviceStateChange] = []
        var sessions: [SessionKey: Session] = [:]
        for stored in snapshot.retained {
            guard let message = persistence.message(stored.message, retain: true, now: now), !message.isExpired(at: now)
            else {
                changes.append(.deleteRetained(tenantID: stored.tenantID, topic: stored.message.topic))
                continue
            }
            restoreRetained(message, in: stored.tenantID)
        }
        for stored in snapshot.sessions where stored.node == persistence.node {
            let key = SessionKey(tenantID: stored.tenantID, clientID: stored.clientID)
            let elapsed = stored.disconnectedAt.map { max(0, wallNow.timeIntervalSince($0)) } ?? 0
            let remaining = stored.expiryInterval == .max ? nil : Double(stored.expiryInterval) - elapsed
            if let remaining, remaining <= 0 {
                changes.append(.deleteSession(tenantID: key.tenantID, clientID: key.clientID))
                continue
            }
            let session = Session(
                key: key, limits: configuration.flowLimits, expiryInterval: stored.expiryInterval,
                persistence: persistence, metrics: metrics)
            session.withState { $0.isStored = true }
            if stored.disconnectedAt == nil {
                // It was connected when the broker stopped: its expiry counts from now.
                changes.append(persistence.session(key, expiry: stored.expiryInterval, disconnected: true))
            }
            if let remaining {
                timers.expiry(of: session, after: .milliseconds(Int64(clamping: remaining * 1000))) { [weak self] in
                    self?.end(session)
                }
            }
            sessions[key] = session
        }
        for stored in snapshot.subscriptions {
            guard let session = sessions[SessionKey(tenantID: stored.tenantID, clientID: stored.clientID)],
                let filter = try? TopicFilter(stored.filter), let qos = QoS(rawValue: stored.options & 0x03)
            else { continue }
            let options = SubscriptionOptions(
                qos: qos, noLocal: stored.options & 0x04 != 0, retainAsPublished: stored.options & 0x08 != 0,
                identifier: stored.identifier)
            restoreSubscription(session, filter, options)
        }
        var held: [SessionKey: (inflight: [OutboundFlow.InFlight], queue: [Delivery], next: Int64)] = [:]
        for stored in snapshot.messages {
            let key = SessionKey(tenantID: stored.tenantID, clientID: stored.clientID)
            guard sessions[key] != nil else { continue }
            guard let message = persistence.message(stored.message, retain: stored.retain, now: now),
                let qos = QoS(rawValue: stored.deliveryQoS)
            else {
                changes.append(
                    .deleteMessage(tenantID: key.tenantID, clientID: key.clientID, sequence: stored.sequence))
                continue
            }
            var delivery = Delivery(
                message: message, qos: qos, retain: stored.retain,
                subscriptionIdentifiers: stored.subscriptionIdentifiers)
            delivery.sequence = stored.sequence
            // In place: a copy of the entry taken out and put back copies its arrays once per message (n²: a
            // restart with 40,000 queued messages took 25 s).
            // Wrapping: a sequence read from the file may be anything, and must not stop the start.
            held[key, default: ([], [], 1)].next = max(held[key]?.next ?? 1, stored.sequence &+ 1)
            if let packetID = stored.packetID, let phase = OutboundFlow.Phase(stored: stored.phase) {
                held[key, default: ([], [], 1)].inflight.append(
                    OutboundFlow.InFlight(packetID: packetID, phase: phase, delivery: delivery))
            } else {
                held[key, default: ([], [], 1)].queue.append(delivery)
            }
        }
        for (key, entry) in held {
            sessions[key]?.withState { state in
                state.flow.restore(inflight: entry.inflight, queue: entry.queue)
                state.nextSequence = entry.next
            }
        }
        adopt(Array(sessions.values))
        persistence.record(changes)
    }
}
