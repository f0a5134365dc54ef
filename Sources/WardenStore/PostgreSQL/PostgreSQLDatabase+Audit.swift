import Foundation
import PostgresNIO
public import WardenCore

extension PostgreSQLDatabase: AuditStore {
    /// The advisory lock an audit append holds ("Audit" in ASCII): one writer at a time on the one chain.
    static let auditLock: Int64 = 0x41_7564_6974

    /// Appends under `auditLock`, and only where the stored chain ends: a batch numbered after a record another
    /// node appended meanwhile is refused (`store.unavailable`) rather than forking the chain. (Until the chain is
    /// linked inside this transaction, one node at a time writes the audit log.) Read committed, so that the
    /// chain's end is read after the lock is held, not from a snapshot taken before it. A batch found already
    /// stored (its commit succeeded but the answer was lost, and the writer tries again) is not stored twice.
    public func appendAuditRecords(_ records: [(record: AuditRecord, chainHash: [UInt8])]) async throws {
        guard let first = records.first?.record.sequence, let last = records.last else { return }
        let encoded = records.map { ($0.record, JSONColumn.encode(flat: $0.record.details), Data($0.chainHash)) }
        do {
            try await transaction("BEGIN") { connection in
                try await connection.run("SELECT pg_advisory_xact_lock(\(Self.auditLock))")
                if let end = try await connection.rows(
                    "SELECT sequence, chain_hash FROM audit_records ORDER BY sequence DESC LIMIT 1"
                ).first.map(AuditRows.link), end.sequence != first &- 1 {
                    if end.sequence == last.record.sequence, end.chainHash == last.chainHash { return }
                    throw WardenError(
                        .storeUnavailable,
                        "The audit chain ends at \(end.sequence), not \(first &- 1): another node appended to it.")
                }
                for (record, details, hash) in encoded {
                    try await connection.run(
                        """
                        INSERT INTO audit_records (sequence, at, tenant_id, actor_kind, actor, source_ip, action,
                            target, outcome, reason, reference_id, details, chain_hash)
                        VALUES (\(record.sequence), \(record.at), \(record.tenant?.rawValue), \(record.actorKind),
                        \(record.actor), \(record.sourceIP), \(record.action), \(record.target),
                        \(record.outcome.rawValue), \(record.reason), \(record.referenceID), \(details), \(hash))
                        """)
                }
            }
        } catch {
            throw Self.mapped(error, "write")
        }
    }

    public func lastAuditChainLink() async throws -> (sequence: Int64, chainHash: [UInt8])? {
        try await read { connection in
            try await connection.rows("SELECT sequence, chain_hash FROM audit_records ORDER BY sequence DESC LIMIT 1")
                .first.map(AuditRows.link)
        }
    }

    public func auditRecords(_ filter: AuditFilter, before cursor: Int64?, limit: Int) async throws -> [AuditRecord] {
        let conditions = AuditRows.conditions(filter, before: cursor)
        var bindings = PostgresBindings()
        for (_, value) in conditions {
            switch value {
            case .text(let text): bindings.append(text)
            case .number(let number): bindings.append(number)
            }
        }
        let clause =
            conditions.isEmpty
            ? "" : "WHERE " + conditions.indices.map { "\(conditions[$0].0) $\($0 + 1)" }.joined(separator: " AND ")
        let query = PostgresQuery(
            unsafeSQL: "SELECT * FROM audit_records \(clause) ORDER BY sequence DESC LIMIT \(limit)", binds: bindings)
        return try await read { connection in try await connection.rows(query).map(AuditRows.record) }
    }

    public func auditChain(after sequence: Int64, limit: Int) async throws
        -> [(record: AuditRecord, chainHash: [UInt8])]
    {
        try await read { connection in
            try await connection.rows(
                "SELECT * FROM audit_records WHERE sequence > \(sequence) ORDER BY sequence LIMIT \(limit)"
            ).map { (try AuditRows.record($0), try AuditRows.link($0).chainHash) }
        }
    }

    public func deleteAuditRecords(before at: Int64, limit: Int) async throws
        -> (sequence: Int64, chainHash: [UInt8])?
    {
        try await write { connection in
            guard
                let last = try await connection.rows(
                    """
                    SELECT sequence, chain_hash FROM audit_records WHERE sequence IN
                        (SELECT sequence FROM audit_records WHERE at < \(at) ORDER BY sequence LIMIT \(limit))
                    ORDER BY sequence DESC LIMIT 1
                    """
                ).first
            else { return nil }
            let link = try AuditRows.link(last)
            try await connection.run("DELETE FROM audit_records WHERE sequence <= \(link.sequence)")
            return link
        }
    }
}
