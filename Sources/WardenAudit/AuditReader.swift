public import WardenCore
public import WardenStore

/// What the API reads from the audit log: pages of records and a verification of the whole chain.
public struct AuditReader: Sendable {
    let store: any AuditStore
    let chain: AuditChain
    let head: AuditHead?

    public init(store: any AuditStore, chain: AuditChain, head: AuditHead?) {
        self.store = store
        self.chain = chain
        self.head = head
    }

    /// Records matching `filter`, newest first, before sequence `cursor`.
    public func records(_ filter: AuditFilter, before cursor: Int64?, limit: Int) async throws -> [AuditRecord] {
        try await store.auditRecords(filter, before: cursor, limit: limit)
    }

    /// Records matching `filter`, oldest first, after sequence `cursor` and up to `last`.
    public func records(_ filter: AuditFilter, after cursor: Int64, through last: Int64, limit: Int) async throws
        -> [AuditRecord]
    {
        try await store.auditRecords(filter, .oldestAfter(cursor, through: last), limit: limit)
    }

    /// Walks the chain (`AuditVerification.run`).
    public func verify() async throws -> AuditVerification {
        try await AuditVerification.run(store: store, chain: chain, head: head)
    }
}
