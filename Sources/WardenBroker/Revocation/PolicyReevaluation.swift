import NIOConcurrencyHelpers
public import NIOCore
public import WardenCore
import WardenMQTT
public import WardenPolicy

/// Keeps live connections within the policy (issue 14, "Continuous re-evaluation"): when a tenant's policy
/// version, a device's attributes or a group's members change, every connection and subscription the change
/// may affect is decided again before the call that made it returns (the bus calls observers synchronously).
///
/// A connection no longer allowed to `connect` is closed (5.0 DISCONNECT 0x87 with the reference id); a
/// subscription no longer allowed is removed, so it stops receiving (MQTT has no way to tell a client that a
/// subscription ended, short of closing the connection). Each is an authorization-denied audit record.
public struct PolicyReevaluation: Sendable {
    private let broker: Broker
    private let authorizer: any Authorizer
    private let events: EventBus
    private let clock: any WardenClock

    public init(broker: Broker, authorizer: any Authorizer, events: EventBus, clock: any WardenClock) {
        self.broker = broker
        self.authorizer = authorizer
        self.events = events
        self.clock = clock
    }

    /// Starts following `bus`; `facts` says which tenants' policies read device twins.
    public func follow(_ bus: EventBus, facts: any PolicyFacts) {
        bus.observe { event in handle(event, facts: facts) }
    }

    func handle(_ event: DomainEvent, facts: any PolicyFacts) {
        switch event {
        case .authorizationPolicyChanged, .deviceCreated, .deviceUpdated, .deviceDeleted, .groupChanged, .groupDeleted,
            .policyChanged, .policyDeleted, .tenantDeleted, .quarantined, .released:
            broker.receiveCheck?.invalidate()
        default:
            break
        }
        switch event {
        case .authorizationPolicyChanged(let version):
            recheck(broker.connectedSessions(in: version.tenantID))
        case .deviceUpdated(let device, .attributes):
            recheck(
                broker.session(SessionKey(tenantID: device.tenantID, clientID: device.id.rawValue)).map { [$0] } ?? [])
        case .quarantined(let quarantine):
            recheck(
                broker.session(SessionKey(tenantID: quarantine.tenantID, clientID: quarantine.deviceID.rawValue))
                    .map { [$0] } ?? [])
        case .released(let tenantID, let deviceID):
            recheck(broker.session(SessionKey(tenantID: tenantID, clientID: deviceID.rawValue)).map { [$0] } ?? [])
        case .groupChanged(let group):
            // The event holds the members now, not who left: every device of the tenant may be affected.
            recheck(broker.connectedSessions(in: group.tenantID))
        case .groupDeleted(let tenantID, _):
            recheck(broker.connectedSessions(in: tenantID))
        case .twinReportedChanged(let tenantID, let deviceID):
            // Only a policy with a `reported` condition can decide differently; most twin patches change nothing.
            guard facts.policy(tenantID, device: nil).0.readsTwin,
                let session = broker.session(SessionKey(tenantID: tenantID, clientID: deviceID.rawValue))
            else { return }
            // One device's facts changed: its own remembered deliveries go, nobody else's.
            session.withState { $0.receiveDecisions.forget() }
            recheck([session])
        default:
            break
        }
    }

    /// Once a second, decides again the connections of each tenant one of whose time windows opened or closed
    /// since the last look, so that a window takes effect on live connections within a second of its edge; and
    /// every second those of a tenant whose statements change with the clock alone (a connection's age, a
    /// certificate's days to expiry).
    public func watchTime(on loop: any EventLoop, facts: any PolicyFacts) -> RepeatedTask {
        let seen = NIOLockedValueBox<[TenantID: [Bool]]>([:])
        return loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            let now = clock.now()
            for tenantID in broker.tenantsWithSessions() {
                let policy = facts.policy(tenantID, device: nil).0
                let signature = policy.timeSignature(at: now)
                let previous = seen.withLockedValue { seen in
                    defer { seen[tenantID] = signature }
                    return seen[tenantID]
                }
                let windowMoved = previous.map { $0 != signature } ?? false
                guard windowMoved || policy.changesWithTime else { continue }
                broker.receiveCheck?.invalidate()
                recheck(broker.connectedSessions(in: tenantID))
            }
        }
    }

    private func recheck(_ sessions: [Session]) {
        for session in sessions {
            guard let sink = session.sink, let connect = sink.identity.request(.connect, nil) else { continue }
            let context = sink.policyContext
            let decision = authorizer.decide(connect.seen(in: context))
            guard decision.isAllowed else {
                record(decision, .connect, target: session.key.clientID, of: session, sink.identity, context)
                sink.close(.notAuthorized, reasonString: "Not authorized (reference \(decision.referenceID)).")
                continue
            }
            recheckSubscriptions(of: session, as: sink.identity, in: context)
        }
    }

    /// Removes the subscriptions `identity` may no longer hold: on a change, and when a connection resumes a
    /// stored session (its subscriptions were granted under the policy of their time).
    func recheckSubscriptions(of session: Session, as identity: ClientIdentity, in context: PolicyContext) {
        let filters = session.withState { Array($0.subscriptions.keys) }
        var refused: [TopicFilter] = []
        for filter in filters {
            guard let request = identity.request(.subscribe, .filter(filter)) else { continue }
            let decision = authorizer.decide(request.seen(in: context))
            if !decision.isAllowed {
                refused.append(filter)
                record(decision, .subscribe, target: filter.rawValue, of: session, identity, context)
            }
        }
        if !refused.isEmpty { _ = broker.unsubscribe(session, refused) }
    }

    private func record(
        _ decision: Decision, _ action: PolicyAction, target: String, of session: Session, _ identity: ClientIdentity,
        _ context: PolicyContext
    ) {
        events.publish(
            .authorizationDenied(
                identity.denial(
                    decision, action: action, target: target, clientID: session.key.clientID, context: context,
                    at: clock.now())))
    }
}
