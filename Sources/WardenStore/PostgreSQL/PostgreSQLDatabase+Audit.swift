import Foundation
import PostgresNIO
public import WardenCore

extension PostgreSQLDatabase: AuditStore {
    /// The advisory lock an audit append holds ("Audit" in ASCII): one writer at a time on the one chain.
    static let auditLock: Int64 = 0x41_7564_6974

    /// Appends under `auditLock`, linked to the chain's end read after the lock is held (read committed, so not
    /// from a snapshot taken before it): nodes append one batch at a time and the chain stays one.
    public func appendAuditRecords(
        linking link:
            @escaping @Sendable ((sequence: Int64, chainHash: [UInt8])?) -> [(record: AuditRecord, chainHash: [UInt8])]
    ) async throws -> (sequence: Int64, chainHash: [UInt8])? {
        do {
            return try await transaction("BEGIN") { connection in
                try await connection.run("SELECT pg_advisory_xact_lock(\(Self.auditLock))")
                let end = try await connection.rows(
                    "SELECT sequence, chain_hash FROM audit_records ORDER BY sequence DESC LIMIT 1"
                ).first.map(AuditRows.link)
                let records = link(end)
                for (record, hash) in records {
                    let details = JSONColumn.encode(flat: record.details)
                    try await connection.run(
                        """
                        INSERT INTO audit_records (sequence, at, tenant_id, actor_kind, actor, source_ip, action,
                            target, outcome, reason, reference_id, details, chain_hash)
                        VALUES (\(record.sequence), \(record.at), \(record.tenant?.rawValue), \(record.actorKind),
                        \(record.actor), \(record.sourceIP), \(record.action), \(record.target),
                        \(record.outcome.rawValue), \(record.reason), \(record.referenceID), \(details), \(Data(hash)))
                        """)
                }
                return records.last.map { ($0.record.sequence, $0.chainHash) } ?? end
            }
        } catch {
            throw Self.mapped(error, "write")
        }
    }

    public func auditRecords(_ filter: AuditFilter, _ range: AuditRange, limit: Int) async throws -> [AuditRecord] {
        let conditions = AuditRows.conditions(filter, range)
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
            unsafeSQL:
                "SELECT * FROM audit_records \(clause) ORDER BY sequence \(AuditRows.order(range)) LIMIT \(limit)",
            binds: bindings)
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
                        (SELECT sequence FROM audit_records WHERE at < \(at)
                            AND sequence < (SELECT MAX(sequence) FROM audit_records) ORDER BY sequence LIMIT \(limit))
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
