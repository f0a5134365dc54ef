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
    /// Records matching `filter`, newest first, before sequence `cursor`.
    func auditRecords(_ filter: AuditFilter, before cursor: Int64?, limit: Int) async throws -> [AuditRecord]
    /// Records in sequence order after `sequence`, with their stored chain hashes, for verification.
    func auditChain(after sequence: Int64, limit: Int) async throws -> [(record: AuditRecord, chainHash: [UInt8])]
    /// Deletes records older than `at` (milliseconds), at most `limit`, never the newest (the chain's end, which
    /// the next append continues, on whichever node); returns the last deleted one's link.
    func deleteAuditRecords(before at: Int64, limit: Int) async throws -> (sequence: Int64, chainHash: [UInt8])?
}
