public import WardenCore

/// The audit log's storage: appends in batches, reads in sequence order. Nothing updates a record.
public protocol AuditStore: Sendable {
    /// Appends a batch where the stored chain ends, in one transaction that no other writer of the store — this
    /// node's or another's — interleaves with (SQLite's single writer; PostgreSQL's advisory lock): `link` is
    /// given that end (nil for an empty log) and returns the records numbered and chained after it. It may be
    /// called again when the transaction is retried. Returns the new end.
    func appendAuditRecords(
        linking link:
            @escaping @Sendable ((sequence: Int64, chainHash: [UInt8])?) -> [(record: AuditRecord, chainHash: [UInt8])]
    ) async throws -> (sequence: Int64, chainHash: [UInt8])?
    /// Records matching `filter` in `range`, at most `limit`.
    func auditRecords(_ filter: AuditFilter, _ range: AuditRange, limit: Int) async throws -> [AuditRecord]
    /// Records in sequence order after `sequence`, with their stored chain hashes, for verification.
    func auditChain(after sequence: Int64, limit: Int) async throws -> [(record: AuditRecord, chainHash: [UInt8])]
    /// Deletes records older than `at` (milliseconds), at most `limit`, never the newest (the chain's end, which
    /// the next append continues, on whichever node); returns the last deleted one's link.
    func deleteAuditRecords(before at: Int64, limit: Int) async throws -> (sequence: Int64, chainHash: [UInt8])?
}

/// Which of a filter's records a read gives, in which order.
public enum AuditRange: Sendable {
    /// Newest first, before a sequence number (from the newest when nil): pages.
    case newestBefore(Int64?)
    /// Oldest first, after a sequence number and up to another: an export, written as it is read.
    case oldestAfter(Int64, through: Int64)
}

extension AuditStore {
    /// Records matching `filter`, newest first, before sequence `cursor`.
    public func auditRecords(_ filter: AuditFilter, before cursor: Int64?, limit: Int) async throws -> [AuditRecord] {
        try await auditRecords(filter, .newestBefore(cursor), limit: limit)
    }
}
