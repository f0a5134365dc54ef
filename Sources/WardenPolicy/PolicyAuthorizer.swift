import Metrics
import Synchronization
public import WardenCore

/// The broker's `Authorizer`: each request is decided by its tenant's enforced policy version, with the device's
/// groups, attributes and authentication method as the registry holds them. While an audit-only version is
/// tried, it decides too: what it would refuse that the enforced one allows is counted, goes on `events` (and so
/// into the audit log) once per requestor, action and resource, and nothing is refused for it.
public struct PolicyAuthorizer: Authorizer {
    let facts: any PolicyFacts
    let events: EventBus?
    let clock: any WardenClock
    /// The hub's twins, for conditions on reported properties.
    let twins: TwinSource
    private let trialRecords = TrialRecords()
    private static let enforcedDenials = Counter(
        label: "warden_policy_denials_total", dimensions: [("mode", "enforced")])
    private static let triedDenials = Counter(
        label: "warden_policy_denials_total", dimensions: [("mode", "audit_only")])

    public init(
        _ facts: some PolicyFacts, events: EventBus? = nil, clock: any WardenClock = SystemClock(),
        twins: TwinSource = TwinSource()
    ) {
        self.facts = facts
        self.events = events
        self.clock = clock
        self.twins = twins
    }

    /// The decision on `request` and, when it is allowed and stands for a hub action, on that action too: both
    /// must allow. One read of the facts serves both.
    public func decide(_ request: AuthorizationRequest) -> Decision {
        let asked = Asked(request, self)
        let decision = decide(request, asked)
        guard decision.isAllowed, let hubRequest = request.hubRequest else { return decision }
        return decide(hubRequest, asked, isStoodFor: true)
    }

    public var generation: UInt64 { facts.generation }

    public func decisionsStand(in tenantID: TenantID) -> Bool {
        facts.policy(tenantID, device: nil).0.decidesFromFactsAlone
    }

    /// The decision on `request` alone; `isStoodFor` when the caller asked another action that stands for it (a
    /// refusal then names it).
    private func decide(_ request: AuthorizationRequest, _ asked: Asked, isStoodFor: Bool = false) -> Decision {
        let (decision, tried) = asked.decisions(request)
        if let tried, !tried.isAllowed, decision.isAllowed {
            Self.triedDenials.increment()
            let version = asked.policy.trial?.version
            if let events, trialRecords.isFirst(request, version: version) {
                events.publish(.authorizationDenied(trialDenial(request, tried, version)))
            }
        }
        if decision.isAllowed { return .allow() }
        Self.enforcedDenials.increment()
        return .deny(
            decision.reasons, statement: decision.statementID, policyVersion: asked.policy.enforced.version,
            action: isStoodFor ? request.action.rawValue : nil)
    }

    /// The record of what the audit-only version would have refused.
    private func trialDenial(
        _ request: AuthorizationRequest, _ decision: PolicyDecision, _ version: Int?
    ) -> AuthorizationDenial {
        request.denial(
            .deny(decision.reasons, statement: decision.statementID, policyVersion: version),
            principal: request.principal, isEnforced: false, at: clock.now())
    }

    /// The decisions with what they were made from: the versions and the requestor as the registry knows it. When
    /// `request` is allowed and stands for a hub action, the story is that action's.
    public func explain(_ request: AuthorizationRequest) -> PolicyExplanation {
        let asked = Asked(request, self)
        let explanation = asked.explain(request)
        guard explanation.enforced.isAllowed, let hubRequest = request.hubRequest else { return explanation }
        return asked.explain(hubRequest)
    }

    /// What a request is decided with, read once: the tenant's policy, the requestor as the registry knows it,
    /// and the context completed with the clock and the twin where a statement needs them.
    private struct Asked {
        let policy: TenantPolicy
        /// Nil when the request names a device that is not registered.
        let requestor: PolicyRequestor?
        let context: PolicyContext

        init(_ request: AuthorizationRequest, _ authorizer: PolicyAuthorizer) {
            let deviceID: DeviceID? = if case .device(let id) = request.subject { id } else { nil }
            let (policy, device) = authorizer.facts.policy(request.tenantID, device: deviceID)
            self.policy = policy
            switch request.subject {
            case .device:
                requestor = device.map { PolicyRequestor(tenantID: request.tenantID, kind: .device($0)) }
            case .service(let policyName, let permissions):
                requestor = PolicyRequestor(
                    tenantID: request.tenantID, kind: .service(policyName, permissions: permissions))
            }
            var context = request.context
            // The Defender's level for the device counts as the request's when it is higher (quarantine).
            if let device, device.risk > context.risk { context.risk = device.risk }
            if policy.needsTime {
                if context.now == nil { context.now = authorizer.clock.now() }
                context.clockIsSynchronized = authorizer.clock.isSynchronized
            }
            if context.reported == nil, policy.readsTwin, let deviceID, device != nil {
                context.reported = authorizer.twins.reported(request.tenantID, deviceID)
            }
            self.context = context
        }

        /// The enforced and the tried version's decisions on `request` (its subject is this one's; its context
        /// is taken from here).
        func decisions(_ request: AuthorizationRequest) -> (enforced: PolicyDecision, tried: PolicyDecision?) {
            guard let requestor else {
                let refusal = PolicyDecision(
                    isAllowed: false, statementID: nil, reasons: ["device '\(request.principal)' is not registered"])
                return (refusal, nil)
            }
            return (
                policy.enforced.decide(requestor, request.action, request.resource, in: context),
                policy.trial?.decide(requestor, request.action, request.resource, in: context)
            )
        }

        func explain(_ request: AuthorizationRequest) -> PolicyExplanation {
            let (enforced, tried) = decisions(request)
            return PolicyExplanation(
                request: request, context: context, policy: policy, requestor: requestor, enforced: enforced,
                tried: tried)
        }
    }
}

/// Decisions and what they were made from, for simulation and for the story behind a denial.
public struct PolicyExplanation: Sendable {
    /// What was decided: the request asked, or the hub action it stands for.
    public let request: AuthorizationRequest
    /// What the decision saw: the request's context completed with the clock and the device twin.
    public let context: PolicyContext
    /// The tenant's policy: which version decided, and which was tried beside it.
    public let policy: TenantPolicy
    /// Who asked, as the registry knows it; nil when the request was refused before any statement was asked.
    public let requestor: PolicyRequestor?
    /// The decision that holds.
    public let enforced: PolicyDecision
    /// The decision of the audit-only version being tried, if any.
    public let tried: PolicyDecision?
}

/// One policy for every tenant, and devices known by their id alone: for a hub without a registry (unit tests,
/// benchmarks, fuzzers).
public struct FixedPolicyFacts: PolicyFacts {
    let policy: TenantPolicy
    let devices: [DeviceID: PolicyRequestor.DeviceFacts]

    /// `document` for every tenant; a device listed in `devices` has those facts, any other its id alone.
    public init(_ document: PolicyDocument = PolicyDocument(), devices: [PolicyRequestor.DeviceFacts] = []) {
        var policy = TenantPolicy.shipped
        if document != PolicyDocument() { policy.adopt(CompiledPolicy(version: 1, document)) }
        self.policy = policy
        self.devices = Dictionary(devices.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func policy(_ tenantID: TenantID, device: DeviceID?) -> (TenantPolicy, PolicyRequestor.DeviceFacts?) {
        (policy, device.map { devices[$0] ?? PolicyRequestor.DeviceFacts(id: $0) })
    }

    /// Fixed facts never change.
    public var generation: UInt64 { 0 }
}

/// Which audit-only refusals are recorded already: one record per tenant, tried version, requestor, action and
/// resource, so that a busy device's refused topic is one audit record, not one per message (the metric counts
/// each). Bounded: past `capacity` distinct refusals the rest are counted, not recorded.
final class TrialRecords: Sendable {
    static let capacity = 10_000
    private let seen = Mutex<Set<String>>([])

    func isFirst(_ request: AuthorizationRequest, version: Int?) -> Bool {
        let key = [
            request.tenantID.rawValue, "\(version ?? 0)", request.principal, request.action.rawValue,
            request.resource?.text ?? "",
        ].joined(separator: "\u{0}")
        return seen.withLock { seen in
            guard seen.count < Self.capacity else { return false }
            return seen.insert(key).inserted
        }
    }
}

/// What the authorizer reads a device's reported properties from: the hub's twins.
public protocol ReportedProperties: Sendable {
    /// The device's reported properties (an object), or nil when the hub knows no twin for it.
    func reported(_ tenantID: TenantID, _ deviceID: DeviceID) -> JSONValue?
}

/// The hub's twins, attached once the hub exists (it is built after the broker, which needs the authorizer);
/// until then, and without a hub, every twin is unknown.
public final class TwinSource: Sendable {
    private let source = Mutex<(any ReportedProperties)?>(nil)

    public init() {}

    /// A source with `twins` attached already.
    public convenience init(_ twins: some ReportedProperties) {
        self.init()
        attach(twins)
    }

    public func attach(_ twins: some ReportedProperties) {
        source.withLock { $0 = twins }
    }

    func reported(_ tenantID: TenantID, _ deviceID: DeviceID) -> JSONValue? {
        source.withLock { $0 }?.reported(tenantID, deviceID)
    }
}
