/// An authorization outcome: allowed, or denied with every unmet condition and a reference id that the
/// audit record, the log line and (where the protocol allows) the client's reason string all carry (R5.5).
public struct Decision: Sendable, Hashable {
    /// Whether the action may go ahead.
    public let isAllowed: Bool
    /// Quote this to find a denial in logs and the audit log. Empty for an allowing decision: those are not
    /// recorded one by one, and drawing an id from the CSPRNG for every PUBLISH would cost the hot path.
    public let referenceID: String
    /// Every condition that did not hold (empty when allowed).
    public let unmetConditions: [String]
    /// The policy statement that denied, if one did (nil: none allowed).
    public let statementID: String?
    /// The tenant's policy version that decided (nil when no policy was asked).
    public let policyVersion: Int?
    /// The action refused when it is not the one asked: the hub action a PUBLISH or SUBSCRIBE stands for
    /// (`twin.read` for a twin GET); nil when the asked action itself was refused.
    public let action: String?

    /// An allowing decision.
    public static func allow() -> Decision {
        Decision(
            isAllowed: true, referenceID: "", unmetConditions: [], statementID: nil, policyVersion: nil, action: nil)
    }

    /// A denying decision naming what did not hold, and the statement and policy version that decided.
    public static func deny(
        _ unmetConditions: [String], statement: String? = nil, policyVersion: Int? = nil, action: String? = nil
    ) -> Decision {
        Decision(
            isAllowed: false, referenceID: makeReferenceID(), unmetConditions: unmetConditions,
            statementID: statement, policyVersion: policyVersion, action: action)
    }

    private init(
        isAllowed: Bool, referenceID: String, unmetConditions: [String], statementID: String?, policyVersion: Int?,
        action: String?
    ) {
        self.isAllowed = isAllowed
        self.referenceID = referenceID
        self.unmetConditions = unmetConditions
        self.statementID = statementID
        self.policyVersion = policyVersion
        self.action = action
    }

    private static func makeReferenceID() -> String { ReferenceID.make() }
}

/// Reference ids that tie a client's answer, a log line and an audit record together.
public enum ReferenceID {
    /// 12 hex digits from the OS CSPRNG: unique enough to find a record, meaningless otherwise.
    public static func make() -> String {
        Hex.encode(SecretBytes.random(count: 6).bytes)
    }
}
