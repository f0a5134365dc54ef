import CoreMetrics
import Foundation
import NIOCore
import Synchronization
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
        var changes: [DeviceStateChange] = []
        let clearsExpireBefore = Date().unixMicroseconds - StoredRetained.clearsKeptFor
        for stored in snapshot.retained {
            guard let message = persistence.message(stored.message, retain: true, now: now),
                !message.isExpired(at: now),
                !stored.isClear || stored.stamp.time >= clearsExpireBefore
            else {
                changes.append(
                    .deleteRetained(tenantID: stored.tenantID, topic: stored.message.topic, stamp: stored.stamp))
                continue
            }
            restoreRetained(message, stamp: stored.stamp, in: stored.tenantID)
        }
        let sessions = rebuild(snapshot, persistence: persistence, now: now, changes: &changes, adopting: false) {
            $0.node == persistence.node
        }
        for session in sessions { _ = install(session, recording: []) }
        persistence.record(changes)
    }

    /// Takes up a session that another node of a cluster released, or that a stopped node held, as `restore`
    /// does, and returns once its row is committed as this node's. False when this node holds a session of that
    /// key already (a connection took it meanwhile: nothing is written over it), or the snapshot holds none
    /// that has not expired.
    public func adoptMoved(_ snapshot: MQTTStateSnapshot) async -> Bool {
        guard let persistence else { return false }
        var changes: [DeviceStateChange] = []
        var ticket: UInt64?
        // The claim is recorded with the session's installing, before anything routed to it can record a
        // change of it: every later write of the session comes after the claim (`apply(_:fencedTo:)`).
        for session in rebuild(
            snapshot, persistence: persistence, now: .now(), changes: &changes, adopting: true, selecting: { _ in true }
        ) {
            ticket = install(session, recording: [session.claim] + changes) ?? ticket
        }
        if ticket == nil {
            let keys = snapshot.sessions.map { SessionKey(tenantID: $0.tenantID, clientID: $0.clientID) }
            guard keys.allSatisfy({ session($0) == nil }) else { return false }
            await persistence.committed(persistence.record(changes))
            return false
        }
        await persistence.committed(ticket ?? 0)
        return true
    }

    /// A stored session made whole again, before the broker holds it.
    struct RestoredSession {
        let session: Session
        var subscriptions: [(TopicFilter, SubscriptionOptions)] = []
        /// Seconds left before it expires; nil never.
        let remaining: Double?
        /// The session's row as this node's (its expiry still counting from when its connection ended).
        let claim: DeviceStateChange
    }

    /// The sessions of `snapshot` that `selecting` takes, with their subscriptions and messages; `changes` gets
    /// the deletions of what expired or no longer reads, and (restoring this node's own) the end of the connection
    /// of sessions stored while connected. `adopting` sessions another node held: their rows are claimed.
    private func rebuild(
        _ snapshot: MQTTStateSnapshot, persistence: BrokerPersistence, now: NIODeadline,
        changes: inout [DeviceStateChange], adopting: Bool, selecting: (StoredSession) -> Bool
    ) -> [RestoredSession] {
        let wallNow = persistence.clock.now()
        var sessions: [SessionKey: RestoredSession] = [:]
        for stored in snapshot.sessions where selecting(stored) {
            let key = SessionKey(tenantID: stored.tenantID, clientID: stored.clientID)
            let elapsed = stored.disconnectedAt.map { max(0, wallNow.timeIntervalSince($0)) } ?? 0
            let remaining = stored.expiryInterval == .max ? nil : Double(stored.expiryInterval) - elapsed
            if let remaining, remaining <= 0 {
                changes +=
                    adopting
                    ? persistence.clearing(key) : [.deleteSession(tenantID: key.tenantID, clientID: key.clientID)]
                continue
            }
            let session = Session(
                key: key, limits: configuration.flowLimits, expiryInterval: stored.expiryInterval,
                persistence: persistence, metrics: metrics)
            session.withState { $0.isStored = true }
            // A session stored while connected (the broker stopped, or its node released it) counts its expiry
            // from now.
            let claim = DeviceStateChange.putSession(
                StoredSession(
                    tenantID: key.tenantID, clientID: key.clientID, expiryInterval: stored.expiryInterval,
                    disconnectedAt: stored.disconnectedAt ?? wallNow, node: persistence.node, claims: adopting))
            if stored.disconnectedAt == nil, !adopting { changes.append(claim) }
            sessions[key] = RestoredSession(session: session, remaining: remaining, claim: claim)
        }
        for stored in snapshot.subscriptions {
            let key = SessionKey(tenantID: stored.tenantID, clientID: stored.clientID)
            guard sessions[key] != nil, let filter = try? TopicFilter(stored.filter),
                let qos = QoS(rawValue: stored.options & 0x03)
            else { continue }
            let options = SubscriptionOptions(
                qos: qos, noLocal: stored.options & 0x04 != 0, retainAsPublished: stored.options & 0x08 != 0,
                identifier: stored.identifier)
            sessions[key]?.subscriptions.append((filter, options))
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
            sessions[key]?.session.withState { state in
                state.flow.restore(inflight: entry.inflight, queue: entry.queue)
                state.nextSequence = entry.next
            }
        }
        return Array(sessions.values)
    }

    /// Gives the broker a rebuilt session with its subscriptions, in one step under its lock with `recording`
    /// recorded, and starts its expiry; returns the ticket of what it recorded, or nil (and nothing changed) when
    /// the broker holds a session of that key already.
    private func install(_ restored: RestoredSession, recording: [DeviceStateChange]) -> UInt64? {
        let session = restored.session
        let ticket = state.withLock { state -> UInt64? in
            guard state.sessions[session.key] == nil else { return nil }
            let ticket = persistence?.record(recording) ?? 0
            // The claim comes first in `recording`.
            // total: `ticket` counts every change recorded, these included.
            session.withState { $0.claimTicket = ticket - UInt64(recording.count) + (recording.isEmpty ? 0 : 1) }
            for (filter, options) in restored.subscriptions {
                if state.spaces[session.key.tenantID, default: TopicSpace()].subscribe(session, filter, options) {
                    state.countInterest(in: session.key.tenantID, filter, 1)
                }
                session.withState { $0.subscriptions[filter] = options }
            }
            state.sessions[session.key] = session
            metrics.sessions.record(state.sessions.count)
            return ticket
        }
        if ticket != nil, let remaining = restored.remaining {
            timers.expiry(of: session, after: .milliseconds(Int64(clamping: remaining * 1000))) { [weak self] in
                self?.end(session)
            }
        }
        return ticket
    }
}
