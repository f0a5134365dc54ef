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
    /// must allow.
    public func decide(_ request: AuthorizationRequest) -> Decision {
        let decision = decideAlone(request)
        guard decision.isAllowed, let hubRequest = request.hubRequest else { return decision }
        return decideAlone(hubRequest, isStoodFor: true)
    }

    /// The decision on `request` alone; `isStoodFor` when the caller asked another action that stands for it (a
    /// refusal then names it).
    private func decideAlone(_ request: AuthorizationRequest, isStoodFor: Bool = false) -> Decision {
        let explanation = explainAlone(request)
        if let tried = explanation.tried, !tried.isAllowed, explanation.enforced.isAllowed {
            Self.triedDenials.increment()
            let version = explanation.policy.trial?.version
            if let events, trialRecords.isFirst(request, version: version) {
                events.publish(.authorizationDenied(trialDenial(request, tried, version)))
            }
        }
        let decision = explanation.enforced
        if decision.isAllowed { return .allow() }
        Self.enforcedDenials.increment()
        return .deny(
            decision.reasons, statement: decision.statementID, policyVersion: explanation.policy.enforced.version,
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
        let explanation = explainAlone(request)
        guard explanation.enforced.isAllowed, let hubRequest = request.hubRequest else { return explanation }
        return explainAlone(hubRequest)
    }

    private func explainAlone(_ request: AuthorizationRequest) -> PolicyExplanation {
        let deviceID: DeviceID? = if case .device(let id) = request.subject { id } else { nil }
        let (policy, device) = facts.policy(request.tenantID, device: deviceID)
        let kind: PolicyRequestor.Kind
        switch request.subject {
        case .device(let id):
            guard let device else {
                let refusal = PolicyDecision(
                    isAllowed: false, statementID: nil, reasons: ["device '\(id)' is not registered"])
                return PolicyExplanation(
                    request: request, policy: policy, requestor: nil, enforced: refusal, tried: nil)
            }
            kind = .device(device)
        case .service(let policyName, let permissions):
            kind = .service(policyName, permissions: permissions)
        }
        let requestor = PolicyRequestor(tenantID: request.tenantID, kind: kind)
        var context = request.context
        if policy.needsTime {
            if context.now == nil { context.now = clock.now() }
            context.clockIsSynchronized = clock.isSynchronized
        }
        if context.reported == nil, policy.readsTwin, let deviceID {
            context.reported = twins.reported(request.tenantID, deviceID)
        }
        return PolicyExplanation(
            request: request, policy: policy, requestor: requestor,
            enforced: policy.enforced.decide(requestor, request.action, request.resource, in: context),
            tried: policy.trial?.decide(requestor, request.action, request.resource, in: context))
    }
}

/// Decisions and what they were made from, for simulation and for the story behind a denial.
public struct PolicyExplanation: Sendable {
    /// What was decided: the request asked, or the hub action it stands for.
    public let request: AuthorizationRequest
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
