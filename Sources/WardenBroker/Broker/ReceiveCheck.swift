import Synchronization
public import WardenCore
public import WardenPolicy

/// The policy's `receive` action, asked for every delivery of a routed message to a subscriber (docs/policy.md).
///
/// A decision depends on the subscriber, the topic and what the policy and the registry say, so each session
/// keeps its decisions per topic until the policy generation changes: any new policy version or change to a
/// device or group starts a new generation (`invalidate`). A delivery in a steady state costs a lookup.
public final class ReceiveCheck: Sendable {
    private let authorizer: any Authorizer
    private let events: EventBus
    private let clock: any WardenClock
    private let generation = Atomic<UInt64>(0)

    public init(authorizer: any Authorizer, events: EventBus, clock: any WardenClock) {
        self.authorizer = authorizer
        self.events = events
        self.clock = clock
    }

    /// Forgets every remembered decision: the policy or the facts it decides with changed.
    public func invalidate() {
        generation.wrappingAdd(1, ordering: .relaxed)
    }

    /// Whether `session`'s subscriber may receive a message on `topic`. A refusal made afresh is an audit record
    /// (one per topic and generation, not one per message). A session restored at start-up whose subscriber has
    /// not connected since is not asked: what it queues meanwhile is screened when a connection resumes it
    /// (`Broker.open`), and its subscriptions are decided again then.
    func allows(_ topic: String, to session: Session) -> Bool {
        let current = generation.load(ordering: .relaxed)
        let (remembered, receiver) = session.withState { state -> (Bool?, ClientIdentity?) in
            // An anonymous client's listener decides for it, and a restored session's subscriber is not known yet:
            // nothing to look up (bench/compare's load arrives on the anonymous listener).
            guard let receiver = state.receiver, !receiver.isAnonymous else { return (true, nil) }
            return (state.receiveDecisions.decision(topic, generation: current), receiver)
        }
        if let remembered { return remembered }
        guard let receiver, let request = receiver.request(.receive, .topic(topic)) else { return true }
        // Offline, the last connection's address is not known: conditions on it do not hold.
        let context = session.sink?.policyContext ?? PolicyContext()
        let decision = authorizer.decide(request.seen(in: context))
        session.withState { $0.receiveDecisions.remember(topic, decision.isAllowed, generation: current) }
        if !decision.isAllowed {
            record(decision, topic, to: receiver, clientID: session.key.clientID, context: context)
        }
        return decision.isAllowed
    }
}

extension ReceiveCheck {
    /// The denial of `topic` to `receiver` seen in `context`, or nil when it may receive it; not remembered, not
    /// recorded (the caller records it once outside its locks).
    func refusal(of topic: String, to receiver: ClientIdentity, in context: PolicyContext) -> Decision? {
        guard let request = receiver.request(.receive, .topic(topic)) else { return nil }
        let decision = authorizer.decide(request.seen(in: context))
        return decision.isAllowed ? nil : decision
    }

    /// Records the refusal of `topic` to `receiver` (an audit record).
    func record(
        _ decision: Decision, _ topic: String, to receiver: ClientIdentity, clientID: String, context: PolicyContext
    ) {
        events.publish(
            .authorizationDenied(
                receiver.denial(
                    decision, action: .receive, target: topic, clientID: clientID, context: context, at: clock.now())))
    }
}
