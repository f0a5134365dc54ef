/// One entry of the audit log: who did what to which resource, from where, and how it ended.
///
/// Records hold no secrets: callers pass names, ids, codes and summaries, never credentials (a test checks
/// the log after every kind of credential has been used).
public struct AuditRecord: Sendable, Hashable, Codable {
    /// How an action ended.
    public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable {
        case success
        /// Refused: bad credential, missing permission, policy.
        case denied
        /// Failed for another reason (bad input, conflict, server error).
        case failure
    }

    /// Position in the log, from 1; assigned when the record is appended.
    public var sequence: Int64
    /// Milliseconds since 1970 (UTC).
    public let at: Int64
    /// The tenant the action concerns (nil: platform-wide).
    public let tenant: TenantID?
    /// `user`, `service`, `api_key`, `device`, `anonymous` or `system`.
    public let actorKind: String
    /// The actor's name: a username, service or key name, or a device id.
    public let actor: String
    /// The client's IP address (`-` for the hub itself).
    public let sourceIP: String
    /// What was done, as `resource.verb` (`device.create`, `device.authenticate`, `auth.sign_in`).
    public let action: String
    /// What it was done to (an API path, a device, a user).
    public let target: String
    public let outcome: Outcome
    /// An error or reason code when it did not succeed.
    public let reason: String?
    /// The reference id the client was told, to find the log line.
    public let referenceID: String?
    /// Further facts: a before/after summary, the HTTP status, the auth method, a certificate thumbprint.
    public let details: [String: String]

    public init(
        sequence: Int64 = 0, at: Int64, tenant: TenantID?, actorKind: String, actor: String, sourceIP: String,
        action: String, target: String, outcome: Outcome, reason: String? = nil, referenceID: String? = nil,
        details: [String: String] = [:]
    ) {
        self.sequence = sequence
        self.at = at
        self.tenant = tenant
        self.actorKind = actorKind
        self.actor = actor
        self.sourceIP = sourceIP
        self.action = action
        self.target = target
        self.outcome = outcome
        self.reason = reason
        self.referenceID = referenceID
        self.details = details
    }
}

extension AuditRecord {
    /// The most UTF-8 bytes a text field or detail keeps when recorded.
    public static let maximumFieldBytes = 1024

    /// This record with each text field and detail cut to `maximumFieldBytes`, saying how many bytes were cut: a
    /// device chooses its topics (64 KiB) and a client its ClientId, and the log's buffer counts records, not
    /// bytes. Cut when recorded, never when read: the chain covers what was stored.
    public func bounded() -> AuditRecord {
        func cut(_ text: String) -> String {
            let bytes = text.utf8.count
            guard bytes > Self.maximumFieldBytes else { return text }
            let kept = text.utf8Prefix(Self.maximumFieldBytes)
            return kept + "… (\(bytes - kept.utf8.count) more bytes)"
        }
        return AuditRecord(
            sequence: sequence, at: at, tenant: tenant, actorKind: cut(actorKind), actor: cut(actor),
            sourceIP: cut(sourceIP), action: cut(action), target: cut(target), outcome: outcome,
            reason: reason.map(cut),
            referenceID: referenceID.map(cut),
            details: Dictionary(details.map { (cut($0.key), cut($0.value)) }) { first, _ in first })
    }
}

/// Which records a query wants.
public struct AuditFilter: Sendable, Hashable {
    /// One tenant's records (nil: every tenant's and the platform's, for a platform administrator).
    public var tenant: TenantID?
    public var actor: String?
    public var action: String?
    public var outcome: AuditRecord.Outcome?
    /// Milliseconds since 1970, inclusive.
    public var from: Int64?
    /// Milliseconds since 1970, exclusive.
    public var to: Int64?
    /// The record a client or a log line was told about.
    public var referenceID: String?

    public init(
        tenant: TenantID? = nil, actor: String? = nil, action: String? = nil, outcome: AuditRecord.Outcome? = nil,
        from: Int64? = nil, to: Int64? = nil
    ) {
        self.tenant = tenant
        self.actor = actor
        self.action = action
        self.outcome = outcome
        self.from = from
        self.to = to
    }
}
