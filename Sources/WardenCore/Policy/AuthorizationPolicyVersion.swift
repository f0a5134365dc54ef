public import Foundation

/// One version of a tenant's authorization policy document (docs/policy.md), kept as its author wrote it so that
/// versions diff line by line. Every change, a rollback too, makes a new version; none is ever edited.
public struct AuthorizationPolicyVersion: Sendable, Hashable {
    /// What a list of versions shows of each, without the document.
    public struct Summary: Sendable, Hashable {
        public let tenantID: TenantID
        /// 1 for the first document a tenant writes, then one more for each change.
        public let number: Int
        /// Who wrote it: the management principal (`user:…`, `service:…`, `api-key:…`).
        public let author: String
        public let createdAt: Date
        /// The version a rollback copied; nil for a document written as such.
        public let restoredFrom: Int?
        /// The document's size in bytes.
        public let byteCount: Int
        /// Whether the document says `tolerance: audit-only`: its decisions are recorded, not enforced, and the
        /// newest version before it that is enforced stays so (and is never pruned while it does).
        public let isAuditOnly: Bool

        public init(
            tenantID: TenantID, number: Int, author: String, createdAt: Date, restoredFrom: Int?, byteCount: Int,
            isAuditOnly: Bool
        ) {
            self.tenantID = tenantID
            self.number = number
            self.author = author
            self.createdAt = createdAt
            self.restoredFrom = restoredFrom
            self.byteCount = byteCount
            self.isAuditOnly = isAuditOnly
        }
    }

    public let summary: Summary
    /// The JSON document, byte for byte as written.
    public let document: String

    public init(_ summary: Summary, document: String) {
        self.summary = summary
        self.document = document
    }

    public var tenantID: TenantID { summary.tenantID }
    public var number: Int { summary.number }
}
