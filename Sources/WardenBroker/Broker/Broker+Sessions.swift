import CoreMetrics
import NIOCore
import Synchronization
import WardenCore
import WardenMQTT
import WardenStore

/// Sessions coming and going: a CONNECT takes one up, the connection's end releases it, and a released
/// session's Will and expiry run on `SessionTimers`.
extension Broker {
    /// Gives `sink` the session `key`: a fresh one for clean start or when none exists, else the stored one.
    /// A connection still holding the session is closed (5.0: DISCONNECT 0x8E, [MQTT-3.1.4-3]). A session with
    /// expiry 0 (3.1.1: clean session) lasts only as long as that connection, so it ends rather than resumes.
    /// A Will waiting out its delay is dropped whatever the new connection asks: the client is back before the
    /// delay passed ([MQTT-3.1.2-8]).
    func open(
        _ key: SessionKey, cleanStart: Bool, expiryInterval: UInt32, receiveMaximum: Int,
        maximumPacketSize: Int = .max, sink: any ConnectionSink, now: NIODeadline
    ) -> Attachment {
        // The new sink takes the session inside the broker's lock: the old connection, closing meanwhile, then
        // finds its session taken and publishes no Will ([MQTT-3.1.3-9]).
        // Refusals of queued messages found while resuming, recorded once the locks are released.
        var refused: [(Decision, String)] = []
        let context = sink.policyContext
        let screen = receiveCheck.map { check in
            { (delivery: Delivery) -> Bool in
                let topic = delivery.message.topic
                guard let decision = check.refusal(of: topic, to: sink.identity, in: context) else { return false }
                // One record per topic, as for live deliveries, however many messages wait on it.
                if !refused.contains(where: { TopicKey($0.1) == TopicKey(topic) }) { refused.append((decision, topic)) }
                return true
            }
        }
        let (session, present, previous, resend) = state.withLock { state in
            let existing = state.sessions[key]
            let previous = existing?.sink
            // Attached or just detached (its end is on its way): either way it is over, never resumed.
            let endsWithItsConnection = existing?.withState { $0.expiryInterval == 0 || $0.isEnded } ?? false
            if let existing, !cleanStart, !endsWithItsConnection {
                store(existing, expiry: expiryInterval, disconnected: false)
                let resend = existing.attach(
                    sink, receiveMaximum: receiveMaximum, maximumPacketSize: maximumPacketSize,
                    expiryInterval: expiryInterval, now: now, refuses: screen)
                return (existing, true, previous, resend)
            }
            if let existing {
                existing.withState { state in
                    state.pendingWill?.cancel()
                    state.pendingWill = nil
                }
                endStored(existing, in: &state, recordsDeletion: state.handover == nil)
            }
            if state.handover != nil, let persistence {
                // What is stored under this ClientId, this node's or another's (perhaps one that died), is not
                // resumed: it goes, claimed, so that this session's rows start clean.
                persistence.record(persistence.clearing(key))
            }
            let session = Session(
                key: key, limits: configuration.flowLimits, expiryInterval: expiryInterval, persistence: persistence,
                metrics: metrics)
            store(session, expiry: expiryInterval, disconnected: false)
            state.sessions[key] = session
            // Another node holding this ClientId closes its connection and drops its copy.
            state.handover?.claimed(key)
            metrics.sessions.record(state.sessions.count)
            let resend = session.attach(
                sink, receiveMaximum: receiveMaximum, maximumPacketSize: maximumPacketSize,
                expiryInterval: expiryInterval, now: now)
            return (session, false, previous, resend)
        }
        previous?.close(.sessionTakenOver, reasonString: "Another connection took over the session.")
        for (decision, topic) in refused {
            receiveCheck?.record(decision, topic, to: sink.identity, clientID: key.clientID, context: context)
        }
        return Attachment(session: session, sessionPresent: present, resend: resend)
    }

    /// What must complete before a CONNECT takes session `key` from a connection of this node still holding it:
    /// that connection's loop reading what its socket holds, so that what the client sent on it before
    /// connecting again (a DISCONNECT ending the session, changing its expiry, keeping its Will back) decides
    /// first, as it would on one thread. nil when no connection holds the session (docs/architecture.md, "Order
    /// across connections").
    func holderCaughtUp(_ key: SessionKey) -> EventLoopFuture<Void>? {
        state.withLock { $0.sessions[key]?.sink }?.caughtUp()
    }

    /// `sink` has ended. Its session is released (ended now when its expiry is 0, else when the expiry
    /// passes) and the Will is published now, after its delay, or not at all when a connection that arrived
    /// first took the session over and continues it: the client is back before any delay could pass
    /// ([MQTT-3.1.3-9]; on 3.1.1 too, as mosquitto, so that a takeover racing the old connection's DISCONNECT
    /// never announces a departure).
    func close(
        _ session: Session, sink: any ConnectionSink, will: Will?, device: DeviceSender? = nil, now: NIODeadline
    ) {
        let count = connectionCount.wrappingSubtract(1, ordering: .relaxed).newValue
        metrics.connections.record(count)
        guard session.detach(sink) else { return }
        if let device { deviceGone(device) }
        // A clean start elsewhere ended this session while its connection was still open; or the client is back
        // on another node (no Will: it has not gone).
        let (ended, released) = session.withState { ($0.isEnded, $0.isReleased) }
        if ended {
            if let will, !released { publishWill(will, now: now) }
            return
        }
        let expiry = session.withState { $0.expiryInterval }
        if expiry > 0 { store(session, expiry: expiry, disconnected: true) }
        guard expiry > 0 else {
            end(session)
            if let will { publishWill(will, now: now) }
            return
        }
        if let will {
            let delay = min(will.delay, expiry)
            if delay == 0 {
                publishWill(will, now: now)
            } else {
                // total: widens a UInt32 interval; TimeAmount.seconds caps.
                timers.will(of: session, after: .seconds(Int64(delay))) { [weak self] in
                    self?.publishWill(will, now: .now())
                }
            }
        }
        if expiry != .max {
            // total: widens a UInt32 interval; TimeAmount.seconds caps.
            timers.expiry(of: session, after: .seconds(Int64(expiry))) { [weak self] in self?.end(session) }
        }
    }

    /// The session's client connected to another node of the cluster: the connection here closes (5.0: 0x8E
    /// Session taken over) and this copy goes without a Will or a store write; the other node holds the
    /// session now.
    public func release(_ key: SessionKey) {
        release(key) { _ in true }
    }

    /// `release`, when the session held under `key` is one `isReleased` picks (checked under the broker's lock).
    func release(_ key: SessionKey, when isReleased: (Session) -> Bool) {
        let sink = state.withLock { state -> (any ConnectionSink)? in
            guard let session = state.sessions[key], isReleased(session) else { return nil }
            state.sessions[key] = nil
            Self.removeSubscriptions(of: session, from: &state)
            metrics.sessions.record(state.sessions.count)
            return session.withState { session in
                session.isStored = false
                session.isEnded = true
                session.isReleased = true
                session.pendingWill?.cancel()
                session.pendingWill = nil
                session.pendingExpiry?.cancel()
                session.pendingExpiry = nil
                return session.sink
            }
        }
        sink?.close(.sessionTakenOver, reasonString: "The client connected to another node.")
    }

    /// Ends a session: its subscriptions go, its queue is dropped, its ClientId is free.
    func end(_ session: Session) {
        state.withLock { state in
            endStored(session, in: &state)
            if state.sessions[session.key] === session { state.sessions[session.key] = nil }
            metrics.sessions.record(state.sessions.count)
        }
    }

    /// Drops a session's subscriptions, and its stored form if it has one (unless the caller records that).
    private func endStored(_ session: Session, in state: inout State, recordsDeletion: Bool = true) {
        Self.removeSubscriptions(of: session, from: &state)
        let wasStored = session.withState { session in
            defer {
                session.isStored = false
                session.isEnded = true
            }
            return session.isStored
        }
        if wasStored, recordsDeletion {
            persistence?.record([.deleteSession(tenantID: session.key.tenantID, clientID: session.key.clientID)])
        }
    }

    /// Records the session's expiry and connection state when it has (or now gets) a session expiry; a session
    /// stored for the first time brings its subscriptions along.
    private func store(_ session: Session, expiry: UInt32, disconnected: Bool) {
        guard let persistence else { return }
        session.withState { state in
            guard !state.isEnded, expiry > 0 || state.isStored else { return }
            let claims = !state.isStored
            var changes = [persistence.session(session.key, expiry: expiry, disconnected: disconnected, claims: claims)]
            if claims {
                state.isStored = true
                changes += state.subscriptions.map { filter, options in
                    persistence.subscription(session.key, filter, options)
                }
            }
            let ticket = persistence.record(changes)
            // total: `ticket` counts every change recorded, these included.
            if claims { state.claimTicket = ticket - UInt64(changes.count) + 1 }
        }
    }

    private func publishWill(_ will: Will, now: NIODeadline) {
        if let sender = will.sender {
            _ = publish(will.message, from: sender, isWill: true, now: now)
        } else {
            publish(will.message, in: will.tenantID, now: now)
        }
    }

}
