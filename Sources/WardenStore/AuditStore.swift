public import WardenCore

/// The audit log's storage: appends in batches, reads in sequence order. Nothing updates a record.
public protocol AuditStore: Sendable {
    /// Appends records with their chain hashes, in one transaction.
    func appendAuditRecords(_ records: [(record: AuditRecord, chainHash: [UInt8])]) async throws
    /// The last record's sequence and chain hash, or nil for an empty log.
    func lastAuditChainLink() async throws -> (sequence: Int64, chainHash: [UInt8])?
    /// Records matching `filter`, newest first, before sequence `cursor`.
    func auditRecords(_ filter: AuditFilter, before cursor: Int64?, limit: Int) async throws -> [AuditRecord]
    /// Records in sequence order after `sequence`, with their stored chain hashes, for verification.
    func auditChain(after sequence: Int64, limit: Int) async throws -> [(record: AuditRecord, chainHash: [UInt8])]
    /// Deletes records older than `at` (milliseconds), at most `limit`; returns the last deleted one's link.
    func deleteAuditRecords(before at: Int64, limit: Int) async throws -> (sequence: Int64, chainHash: [UInt8])?
}
