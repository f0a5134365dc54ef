public import Foundation

/// Something the Defender saw that an operator should know of (issue 16): open until acknowledged or resolved;
/// the same rule seeing the same subject again while it is not resolved counts on the same alert.
public struct Alert: Sendable, Hashable {
    public enum Severity: String, Sendable, Hashable, CaseIterable {
        case low, medium, high, critical
    }

    public enum Status: String, Sendable, Hashable, CaseIterable {
        case open, acknowledged, resolved
    }

    public let id: String
    /// Nil for what belongs to no tenant (a source address before it named one).
    public let tenantID: TenantID?
    /// The rule that raised it: `auth.failures.address`.
    public let rule: String
    public let severity: Severity
    public var status: Status
    /// What it is about: `address 192.0.2.7`, `device default/meter-1`.
    public let subject: String
    public var summary: String
    /// How many times the rule fired on the subject while the alert was not resolved.
    public var count: Int
    public let firstSeen: Date
    public var lastSeen: Date
    /// Who acknowledged or resolved it, and when.
    public var changedBy: String?
    public var changedAt: Date?

    public init(
        id: String, tenantID: TenantID?, rule: String, severity: Severity, status: Status = .open, subject: String,
        summary: String, count: Int = 1, firstSeen: Date, lastSeen: Date, changedBy: String? = nil,
        changedAt: Date? = nil
    ) {
        self.id = id
        self.tenantID = tenantID
        self.rule = rule
        self.severity = severity
        self.status = status
        self.subject = subject
        self.summary = summary
        self.count = count
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.changedBy = changedBy
        self.changedAt = changedAt
    }
}

extension Alert {
    /// The alert as its webhook deliveries and `$warden/alerts/…` messages carry it:
    /// `{"type": "alert", "alert": {…}}`, keys sorted.
    public var messageBody: [UInt8] {
        var fields: [String: JSONValue] = [
            "id": .string(id), "rule": .string(rule), "severity": .string(severity.rawValue),
            "status": .string(status.rawValue), "subject": .string(subject), "summary": .string(summary),
            "count": .number(count),
            "firstSeen": .string(UTCTimestamp.string(milliseconds: firstSeen.unixMilliseconds)),
            "lastSeen": .string(UTCTimestamp.string(milliseconds: lastSeen.unixMilliseconds)),
        ]
        if let tenantID { fields["tenantId"] = .string(tenantID.rawValue) }
        if let changedBy { fields["changedBy"] = .string(changedBy) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let value: JSONValue = ["type": "alert", "alert": .object(fields)]
        return Array((try? encoder.encode(value)) ?? Data("{}".utf8))
    }
}
