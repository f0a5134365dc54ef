import NIOCore
import Synchronization
import WardenMQTT

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
        var subscriptions: [String: SubscriptionOptions] = [:]
        /// Seconds the session outlives its connection; `UInt32.max` never expires.
        var expiryInterval: UInt32
        /// The session's end or the Will, scheduled while no connection holds the session.
        var pendingExpiry: Scheduled<Void>?
        var pendingWill: Scheduled<Void>?
    }

    let key: SessionKey
    private let state: Mutex<State>

    init(key: SessionKey, limits: OutboundFlow.Limits, expiryInterval: UInt32) {
        self.key = key
        self.state = Mutex(State(flow: OutboundFlow(limits: limits), expiryInterval: expiryInterval))
    }

    func withState<Result>(_ body: (inout State) -> Result) -> Result {
        state.withLock { body(&$0) }
    }

    /// Hands a message to the session: sent on its connection now, queued, or dropped (the reason returned).
    func deliver(_ delivery: Delivery, now: NIODeadline) -> OutboundFlow.DropReason? {
        let (offer, sink) = state.withLock { state in (state.flow.offer(delivery, now: now), state.sink) }
        switch offer {
        case .send(let packet):
            sink?.send([.publish(packet)])
            return nil
        case .queued: return nil
        case .dropped(let reason): return reason
        }
    }

    /// The client acknowledged an outbound message: what to send now (nil: no such packet id was waiting).
    func acknowledge(_ kind: PublishAckPacket.Kind, packetID: UInt16, now: NIODeadline) -> [MQTTPacket]? {
        state.withLock { $0.flow.acknowledge(kind, packetID: packetID, now: now) }
    }

    /// A failing PUBREC released a QoS 2 message (5.0 §4.3.3).
    func refuse(packetID: UInt16, now: NIODeadline) -> [MQTTPacket] {
        state.withLock { $0.flow.refuse(packetID: packetID, now: now) }
    }

    /// Binds the session to a connection; cancels a pending expiry and Will; returns what to (re)send.
    func attach(_ sink: any ConnectionSink, receiveMaximum: Int, expiryInterval: UInt32, now: NIODeadline)
        -> [MQTTPacket]
    {
        state.withLock { state in
            state.sink = sink
            state.expiryInterval = expiryInterval
            state.pendingExpiry?.cancel()
            state.pendingExpiry = nil
            state.pendingWill?.cancel()
            state.pendingWill = nil
            return state.flow.resume(receiveMaximum: receiveMaximum, now: now)
        }
    }

    /// Unbinds `sink` if it still holds the session; returns whether it did.
    func detach(_ sink: any ConnectionSink) -> Bool {
        state.withLock { state in
            guard let current = state.sink, current === sink else { return false }
            state.sink = nil
            state.flow.suspend()
            return true
        }
    }

    /// The connection holding the session, if any.
    var sink: (any ConnectionSink)? { state.withLock { $0.sink } }

    static func == (lhs: Session, rhs: Session) -> Bool { lhs === rhs }

    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
