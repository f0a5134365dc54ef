public import Foundation
import WardenCore
import WardenPolicy

/// One version of a tenant's authorization policy as the API shows it; `document` only when one version is
/// asked for.
public struct PolicyVersionResource: Codable, Sendable {
    public let version: Int
    public let author: String
    public let createdAt: Date
    public let restoredFrom: Int?
    public let auditOnly: Bool
    public let bytes: Int
    public let document: String?

    init(_ summary: AuthorizationPolicyVersion.Summary, document: String? = nil) {
        version = summary.number
        author = summary.author
        createdAt = summary.createdAt
        restoredFrom = summary.restoredFrom
        auditOnly = summary.isAuditOnly
        bytes = summary.byteCount
        self.document = document
    }

    init(_ version: AuthorizationPolicyVersion) {
        self.init(version.summary, document: version.document)
    }
}

/// The statements in force in a tenant, the shipped ones included, in the order they are considered.
public struct PolicyInForceResource: Codable, Sendable {
    public struct Statement: Codable, Sendable {
        public let id: String
        public let effect: String
        public let actions: [String]
        public let resources: [String]
        /// `default` for a shipped statement, else `document`.
        public let source: String

        init(_ statement: PolicyStatement) {
            id = statement.id
            effect = statement.effect.rawValue
            actions = statement.actions.map(\.rawValue).sorted()
            resources = statement.resources.map(\.description)
            source = statement.id.hasPrefix("default.") ? "default" : "document"
        }
    }

    /// The enforced version (0: the shipped statements alone).
    public let version: Int
    public let tolerance: String
    /// The audit-only version tried beside it, if any.
    public let triedVersion: Int?
    /// Why the enforced version denies everything, when its stored document no longer reads.
    public let unreadable: String?
    public let statements: [Statement]

    init(_ policy: TenantPolicy) {
        version = policy.enforced.version
        tolerance = policy.enforced.tolerance.rawValue
        triedVersion = policy.trial?.version
        unreadable = policy.enforced.unreadable
        statements = policy.enforced.engine.statements.map(Statement.init)
    }
}

/// `POST …/policies/rollback`.
struct RollbackPolicyRequest: APIRequestBody {
    static let fields: Set<String> = ["version"]
    let version: Int
}

/// `POST …/policies/simulate`: who, what, on which topic, seen how.
struct SimulatePolicyRequest: APIRequestBody {
    struct Context: Decodable {
        let sourceAddress: String?
        let `protocol`: String?
        /// ISO 8601; default now.
        let time: String?
        /// A risk level; default `normal`.
        let risk: String?
        /// `1.2`, `1.3` or `none`; default unknown.
        let tlsVersion: String?
        /// Bytes; default unknown.
        let payloadSize: Int?
        /// PUBLISHes per second; default unknown.
        let messageRate: Double?
        /// A duration (`15m`) or seconds; default unknown.
        let connectionAge: String?
    }

    static let fields: Set<String> = ["device", "service", "action", "topic", "context"]
    let device: DeviceID?
    let service: PolicyName?
    let action: String
    let topic: String?
    let context: Context?
}

/// What a simulation answers: the decision, the statement that made it and why, and the audit-only version's
/// when one is tried.
public struct PolicySimulationResource: Codable, Sendable {
    public struct Outcome: Codable, Sendable {
        /// `allow` or `deny`.
        public let decision: String
        /// The deciding statement's id; nil when none applied.
        public let statement: String?
        public let reasons: [String]
        public let policyVersion: Int

        init(_ decision: PolicyDecision, version: Int) {
            self.init(
                decision: decision.isAllowed ? "allow" : "deny", statement: decision.statementID,
                reasons: decision.reasons, policyVersion: version)
        }

        init(decision: String, statement: String?, reasons: [String], policyVersion: Int) {
            self.decision = decision
            self.statement = statement
            self.reasons = reasons
            self.policyVersion = policyVersion
        }

        /// `statement` is written as null when no statement applied, not left out.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(decision, forKey: .decision)
            try container.encode(statement, forKey: .statement)
            try container.encode(reasons, forKey: .reasons)
            try container.encode(policyVersion, forKey: .policyVersion)
        }
    }

    /// The requestor's facts the decision used.
    public struct Requestor: Codable, Sendable {
        public let groups: [String]
        public let attributes: [String: String]
        public let authentication: String?
    }

    public let decision: String
    public let statement: String?
    public let reasons: [String]
    public let policyVersion: Int
    /// The action decided: the one asked, or the hub action it stands for (a twin GET's `twin.read`) when the
    /// asked one is allowed.
    public let action: String
    public let requestor: Requestor?
    /// What the audit-only version being tried would decide.
    public let tried: Outcome?
    /// What each statement offered for the request made of it, in document order.
    public let considered: [PolicyTraceResource]

    init(_ explanation: PolicyExplanation, considered: [PolicyTrace]) {
        self.considered = considered.map(PolicyTraceResource.init)
        let enforced = Outcome(explanation.enforced, version: explanation.policy.enforced.version)
        decision = enforced.decision
        statement = enforced.statement
        reasons = enforced.reasons
        policyVersion = enforced.policyVersion
        action = explanation.request.action.rawValue
        if case .device(let facts)? = explanation.requestor?.kind {
            requestor = Requestor(
                groups: facts.groups.map(\.rawValue).sorted(), attributes: facts.attributes,
                authentication: facts.authentication?.rawValue)
        } else {
            requestor = nil
        }
        tried = zip(explanation.tried, explanation.policy.trial).map { Outcome($0, version: $1.version) }
    }

    /// The enforced outcome's fields as `Outcome` writes them (`statement` null when none applied), then the rest.
    public func encode(to encoder: any Encoder) throws {
        try Outcome(decision: decision, statement: statement, reasons: reasons, policyVersion: policyVersion).encode(
            to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(action, forKey: .action)
        try container.encodeIfPresent(requestor, forKey: .requestor)
        try container.encodeIfPresent(tried, forKey: .tried)
        try container.encode(considered, forKey: .considered)
    }
}

/// Both values, or nil.
private func zip<First, Second>(_ first: First?, _ second: Second?) -> (First, Second)? {
    guard let first, let second else { return nil }
    return (first, second)
}

/// What one statement made of a request.
public struct PolicyTraceResource: Codable, Sendable {
    public let statement: String
    public let effect: String
    /// `applies`, `principals-exclude`, `resource-outside` or `conditions-unmet`.
    public let outcome: String
    /// The conditions that did not hold, for `conditions-unmet`.
    public let reasons: [String]

    init(_ trace: PolicyTrace) {
        statement = trace.statementID
        effect = trace.effect.rawValue
        switch trace.outcome {
        case .applies: (outcome, reasons) = ("applies", [])
        case .principalsExclude: (outcome, reasons) = ("principals-exclude", [])
        case .resourceOutside: (outcome, reasons) = ("resource-outside", [])
        case .conditionsUnmet(let unmet): (outcome, reasons) = ("conditions-unmet", unmet)
        }
    }
}

/// The story behind a recorded decision (`GET …/policies/explanations/{reference}`): what the audit record holds,
/// and the recorded policy version decided again for the requestor as the registry holds it now, statement by
/// statement.
public struct PolicyStoryResource: Codable, Sendable {
    /// The recorded version decided again.
    public struct Replay: Codable, Sendable {
        public let decision: String
        public let statement: String?
        public let considered: [PolicyTraceResource]
    }

    public let record: AuditRecordResource
    public let policyVersion: Int?
    public let statement: String?
    /// Nil when the decision cannot be made again, and `replayUnavailable` says why.
    public let replay: Replay?
    public let replayUnavailable: String?
}
