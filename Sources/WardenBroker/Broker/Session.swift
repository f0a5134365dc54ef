import NIOCore
import Synchronization
import WardenMQTT
import WardenStore

/// How one subscription asked to receive messages (5.0 §3.8.3.1).
struct SubscriptionOptions: Sendable, Equatable {
    var qos: QoS
    var noLocal = false
    var retainAsPublished = false
    var identifier: Int?
}

/// An MQTT session: it outlives connections when the client asked for that (clean start 0 and a session
/// expiry), holding subscriptions and the outbound flow. Identity-hashable, so the subscription trie can
/// point straight at it.
final class Session: Sendable, Hashable {
    struct State: Sendable {
        var flow: OutboundFlow
        var sink: (any ConnectionSink)?
        /// Filter as sent (with any `$share/` prefix) → options.
        var subscriptions: [TopicFilter: SubscriptionOptions] = [:]
        /// Seconds the session outlives its connection; `UInt32.max` never expires.
        var expiryInterval: UInt32
        /// The session's end or the Will, scheduled while no connection holds the session.
        var pendingExpiry: Scheduled<Void>?
        var pendingWill: Scheduled<Void>?
        /// Whether the store holds this session (it had a session expiry above 0).
        var isStored = false
        /// The ticket by which this node's claim of the session's row is recorded (a session taken up at start
        /// claimed it before: 0); nil while it has none. A fenced write of the session releases it only once its
        /// claim committed (`Broker.install(handover:)`): a claim still on its way is a newer session's.
        var claimTicket: UInt64?
        /// Whether the session has ended (expired, or replaced by a clean start); it is never stored again.
        var isEnded = false
        /// Whether its client connected to another node of the cluster, which holds the session now: this copy
        /// is dropped without a Will or a store write.
        var isReleased = false
        /// The next stored message's sequence.
        var nextSequence: Int64 = 1
        /// Who the last connection to hold the session was: whose `receive` the policy decides while the
        /// session is offline too. Nil for a session restored at start-up until a connection resumes it.
        var receiver: ClientIdentity?
        /// `receive` decisions per topic, valid while the policy generation they were made in lasts.
        var receiveDecisions = TopicDecisions(capacity: 256)
    }

    let key: SessionKey
    private let state: Mutex<State>
    private let persistence: BrokerPersistence?
    private let metrics: BrokerMetrics

    init(
        key: SessionKey, limits: OutboundFlow.Limits, expiryInterval: UInt32, persistence: BrokerPersistence?,
        metrics: BrokerMetrics
    ) {
        self.key = key
        self.persistence = persistence
        self.metrics = metrics
        self.state = Mutex(State(flow: OutboundFlow(limits: limits), expiryInterval: expiryInterval))
    }

    func withState<Result>(_ body: (inout State) -> Result) -> Result {
        state.withLock { body(&$0) }
    }

    /// Hands a message to the session: sent on its connection now, queued, or dropped (the reason returned);
    /// `ticket` is the commit that stores it, when the session is stored.
    func deliver(_ delivery: Delivery, now: NIODeadline) -> (dropped: OutboundFlow.DropReason?, ticket: UInt64?) {
        var ticket: UInt64?
        let (offer, sink) = state.withLock { state in
            var delivery = delivery
            let stores =
                persistence != nil && state.isStored && delivery.qos != .atMostOnce
                && delivery.message.onDelivered == nil
            if stores {
                delivery.sequence = state.nextSequence
                state.nextSequence &+= 1  // from the file at start-up: wrapping, never trapping
            }
            let offer = state.flow.offer(delivery, now: now)
            if stores, let persistence {
                // The new row carries its packet id already; the flow's own step for it is redundant.
                var changes: [DeviceStateChange] = []
                switch offer {
                case .send(let packet):
                    let phase: OutboundFlow.Phase = delivery.qos == .exactlyOnce ? .awaitingPubrec : .awaitingPuback
                    changes += [
                        persistence.stored(delivery, of: key, packetID: packet.packetID, phase: phase.stored, now: now)
                    ].compactMap { $0 }
                case .queued:
                    changes += [persistence.stored(delivery, of: key, packetID: nil, phase: 0, now: now)].compactMap {
                        $0
                    }
                case .dropped:
                    break
                }
                changes += changesForSteps(&state).filter { change in
                    if case .updateMessage(_, _, let sequence, _, _) = change { return sequence != delivery.sequence }
                    return true
                }
                let recorded = persistence.record(changes)
                if recorded > 0 { ticket = recorded }
            }
            return (offer, state.sink)
        }
        switch offer {
        case .send(let packet):
            sink?.send(.publish(packet))
            return (nil, ticket)
        case .queued: return (nil, ticket)
        case .dropped(let reason): return (reason, ticket)
        }
    }

    /// The client acknowledged an outbound message: what to send now (nil: no such packet id was waiting).
    func acknowledge(_ kind: PublishAckPacket.Kind, packetID: UInt16, now: NIODeadline) -> [MQTTPacket]? {
        let (packets, delivered) = state.withLock { state in
            let packets = state.flow.acknowledge(kind, packetID: packetID, now: now)
            let changes = changesForSteps(&state)
            persistence?.record(changes)
            return (packets, state.flow.takeDelivered())
        }
        // Outside the lock: the hub takes its own locks to settle.
        for message in delivered { message.onDelivered?() }
        return packets
    }

    /// A failing PUBREC released a QoS 2 message (5.0 §4.3.3).
    func refuse(packetID: UInt16, now: NIODeadline) -> [MQTTPacket] {
        state.withLock { state in
            let packets = state.flow.refuse(packetID: packetID, now: now)
            let changes = changesForSteps(&state)
            persistence?.record(changes)
            return packets
        }
    }

    /// The store changes for the flow's steps since last asked (none for a session the store does not hold);
    /// counts what the queue dropped on the way.
    private func changesForSteps(_ state: inout State) -> [DeviceStateChange] {
        for reason in state.flow.takeDrops() { metrics.dropped(reason) }
        let steps = state.flow.takeSteps()
        guard state.isStored else { return [] }
        return steps.map { step in
            switch step {
            case .inFlight(let sequence, let packetID, let phase):
                .updateMessage(
                    tenantID: key.tenantID, clientID: key.clientID, sequence: sequence, packetID: packetID,
                    phase: phase.stored)
            case .finished(let sequence):
                .deleteMessage(tenantID: key.tenantID, clientID: key.clientID, sequence: sequence)
            }
        }
    }

    /// Binds the session to a connection; cancels a pending expiry and Will; returns what to (re)send. A session
    /// restored at start-up whose subscriber has not connected since queued its messages unchecked (nobody was
    /// known to ask `receive` for): `refuses` screens them first, and those it refuses are dropped.
    func attach(
        _ sink: any ConnectionSink, receiveMaximum: Int, maximumPacketSize: Int, expiryInterval: UInt32,
        now: NIODeadline, refuses: ((Delivery) -> Bool)? = nil
    ) -> [MQTTPacket] {
        state.withLock { state in
            if state.receiver == nil, let refuses { state.flow.dropQueued(.notAuthorized, where: refuses) }
            state.sink = sink
            state.receiver = sink.identity
            state.receiveDecisions = TopicDecisions(capacity: 256)
            state.expiryInterval = expiryInterval
            state.pendingExpiry?.cancel()
            state.pendingExpiry = nil
            state.pendingWill?.cancel()
            state.pendingWill = nil
            let packets = state.flow.resume(
                receiveMaximum: receiveMaximum, maximumPacketSize: maximumPacketSize, now: now)
            let changes = changesForSteps(&state)
            persistence?.record(changes)
            return packets
        }
    }

    /// Unbinds `sink` if it still holds the session; returns whether it did.
    func detach(_ sink: any ConnectionSink) -> Bool {
        state.withLock { state in
            guard let current = state.sink, current === sink else { return false }
            state.sink = nil
            state.flow.suspend()
            state.flow.discardHubMessages()
            return true
        }
    }

    /// The connection holding the session, if any.
    var sink: (any ConnectionSink)? { state.withLock { $0.sink } }

    static func == (lhs: Session, rhs: Session) -> Bool { lhs === rhs }

    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
