public import Foundation
public import WardenCore

/// One version of a tenant's policy, compiled.
public struct CompiledPolicy: Sendable {
    /// 0 for the shipped statements alone (the tenant has written no document).
    public let version: Int
    public let tolerance: PolicyDocument.Tolerance
    /// The statements in force: the document's, beside the shipped ones unless it excludes them.
    public let engine: PolicyEngine
    /// Why the stored version could not be read (a later release may check documents more strictly than the
    /// one that accepted it): every request is then denied with this reason, until a new version is written.
    /// Fail closed: falling back to the shipped statements would lift the document's denials.
    public let unreadable: String?

    /// The shipped statements alone.
    public static let shipped = CompiledPolicy(version: 0, PolicyDocument())

    public init(version: Int, _ document: PolicyDocument) {
        self.init(version: version, tolerance: document.tolerance, engine: PolicyEngine(document), unreadable: nil)
    }

    /// Compiles a stored version; a document that no longer reads denies everything and says why.
    public init(_ stored: AuthorizationPolicyVersion) {
        do {
            self.init(version: stored.number, try PolicyDocument(text: Array(stored.document.utf8)))
        } catch {
            self.init(
                version: stored.number, tolerance: stored.summary.isAuditOnly ? .auditOnly : .strict,
                engine: PolicyEngine(PolicyDocument(includeDefault: false)),
                unreadable: "policy version \(stored.number) cannot be read: \(error.reason)")
        }
    }

    private init(version: Int, tolerance: PolicyDocument.Tolerance, engine: PolicyEngine, unreadable: String?) {
        self.version = version
        self.tolerance = tolerance
        self.engine = engine
        self.unreadable = unreadable
    }

    /// The decision of this version, or the denial its unreadable document makes.
    func decide(
        _ requestor: PolicyRequestor, _ action: PolicyAction, _ resource: AuthorizationRequest.Resource?,
        in context: PolicyContext
    ) -> PolicyDecision {
        if let unreadable { return PolicyDecision(isAllowed: false, statementID: nil, reasons: [unreadable]) }
        return engine.decide(requestor, action, resource, in: context)
    }
}

/// A tenant's policy in force: the enforced version and, while one is tried, the newer audit-only version whose
/// decisions are recorded beside the enforced ones.
public struct TenantPolicy: Sendable {
    public private(set) var enforced: CompiledPolicy
    public private(set) var trial: CompiledPolicy?

    /// The shipped statements alone, nothing tried.
    public static let shipped = TenantPolicy(enforced: .shipped, trial: nil)

    public init(enforced: CompiledPolicy, trial: CompiledPolicy?) {
        self.enforced = enforced
        self.trial = trial
    }

    /// Puts a newer version in force: an audit-only one is tried beside the enforced one, any other replaces both.
    /// Versions are numbered as written (a rollback writes a new one), so an older number arriving late — from
    /// another node, say — changes nothing.
    public mutating func adopt(_ version: CompiledPolicy) {
        guard version.version > newest.version else { return }
        if version.tolerance == .auditOnly {
            trial = version
        } else {
            enforced = version
            trial = nil
        }
    }

    /// The newest version: the one tried, else the one enforced.
    public var newest: CompiledPolicy { trial ?? enforced }

    /// Whether a statement in force has a condition on the time (the authorizer reads the clock only then).
    var needsTime: Bool { enforced.engine.readsClock || trial?.engine.readsClock == true }

    /// Whether a statement in force reads the device twin (the authorizer fetches it only then).
    public var readsTwin: Bool { enforced.engine.readsTwin || trial?.engine.readsTwin == true }

    /// Whether a statement in force changes its answer with the clock alone (connection age, days to expiry).
    public var changesWithTime: Bool { enforced.engine.changesWithTime || trial?.engine.changesWithTime == true }

    /// Whether a decision stands while the facts stand: no audit-only version is tried beside the enforced one
    /// (each of its refusals is counted), and no statement reads the clock, the twin or a PUBLISH's size or rate.
    var decidesFromFactsAlone: Bool { trial == nil && enforced.engine.decidesFromFactsAlone }

    /// Which of the time windows in force hold at `date`, as bits, for noticing when one opens or closes.
    public func timeSignature(at date: Date) -> [Bool] {
        (enforced.engine.timeWindows + (trial?.engine.timeWindows ?? [])).map { $0.holds(at: date) }
    }
}

/// Where the authorizer finds what it decides with: the tenant's policy in force and what the registry knows of
/// a device. `DeviceDirectory` answers from memory; reads are brief and copy out one entry.
public protocol PolicyFacts: Sendable {
    /// The tenant's policy, and the device's facts when `device` is given and registered (nil otherwise).
    func policy(_ tenantID: TenantID, device: DeviceID?) -> (TenantPolicy, PolicyRequestor.DeviceFacts?)
    /// Moves on after every change to what `policy` answers (a policy version, a device, a group, a quarantine),
    /// never before the change is readable: a decision made from facts read after loading it is as fresh as it.
    var generation: UInt64 { get }
}
