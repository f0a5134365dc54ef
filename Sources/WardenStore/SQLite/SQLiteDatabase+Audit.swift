import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: AuditStore {
    public func appendAuditRecords(
        linking link:
            @escaping @Sendable ((sequence: Int64, chainHash: [UInt8])?) -> [(record: AuditRecord, chainHash: [UInt8])]
    ) async throws -> (sequence: Int64, chainHash: [UInt8])? {
        try await write { db in
            let end = try Row.fetchOne(
                db, sql: "SELECT sequence, chain_hash FROM audit_records ORDER BY sequence DESC LIMIT 1"
            ).map(AuditRows.link)
            let records = link(end)
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO audit_records (sequence, at, tenant_id, actor_kind, actor, source_ip, action, target,
                        outcome, reason, reference_id, details, chain_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            // The statement's shape is fixed here: unchecked arguments skip GRDB's per-row count check.
            for (record, hash) in records {
                statement.setUncheckedArguments([
                    record.sequence, record.at, record.tenant?.rawValue, record.actorKind, record.actor,
                    record.sourceIP, record.action, record.target, record.outcome.rawValue, record.reason,
                    record.referenceID, JSONColumn.encode(flat: record.details), Data(hash),
                ])
                try statement.execute()
            }
            return records.last.map { ($0.record.sequence, $0.chainHash) } ?? end
        }
    }

    public func auditRecords(_ filter: AuditFilter, _ range: AuditRange, limit: Int) async throws -> [AuditRecord] {
        let conditions = AuditRows.conditions(filter, range)
        let clause =
            conditions.isEmpty ? "" : "WHERE " + conditions.map { "\($0.0) ?" }.joined(separator: " AND ")
        let arguments: [any DatabaseValueConvertible] = conditions.map {
            switch $0.1 {
            case .text(let text): text
            case .number(let number): number
            }
        }
        let sql = "SELECT * FROM audit_records \(clause) ORDER BY sequence \(AuditRows.order(range)) LIMIT \(limit)"
        let statementArguments = StatementArguments(arguments) ?? StatementArguments()
        return try await read { db in
            try Row.fetchAll(db, sql: sql, arguments: statementArguments).map(AuditRows.record)
        }
    }

    public func auditChain(after sequence: Int64, limit: Int) async throws
        -> [(record: AuditRecord, chainHash: [UInt8])]
    {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM audit_records WHERE sequence > ? ORDER BY sequence LIMIT ?",
                arguments: [sequence, limit]
            ).map { (try AuditRows.record($0), try AuditRows.link($0).chainHash) }
        }
    }

    public func deleteAuditRecords(before at: Int64, limit: Int) async throws
        -> (sequence: Int64, chainHash: [UInt8])?
    {
        try await write { db in
            guard
                let last = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT sequence, chain_hash FROM audit_records WHERE sequence IN
                            (SELECT sequence FROM audit_records WHERE at < ?
                                AND sequence < (SELECT MAX(sequence) FROM audit_records) ORDER BY sequence LIMIT ?)
                        ORDER BY sequence DESC LIMIT 1
                        """, arguments: [at, limit])
            else { return nil }
            let link = try AuditRows.link(last)
            try db.execute(sql: "DELETE FROM audit_records WHERE sequence <= ?", arguments: [link.sequence])
            return link
        }
    }
}
