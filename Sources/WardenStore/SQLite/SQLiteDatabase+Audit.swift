import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: AuditStore {
    public func appendAuditRecords(_ records: [(record: AuditRecord, chainHash: [UInt8])]) async throws {
        let encoded = records.map { ($0.record, JSONColumn.encode(flat: $0.record.details), Data($0.chainHash)) }
        try await write { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO audit_records (sequence, at, tenant_id, actor_kind, actor, source_ip, action, target,
                        outcome, reason, reference_id, details, chain_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            // The statement's shape is fixed here: unchecked arguments skip GRDB's per-row count check.
            for (record, details, hash) in encoded {
                statement.setUncheckedArguments([
                    record.sequence, record.at, record.tenant?.rawValue, record.actorKind, record.actor,
                    record.sourceIP, record.action, record.target, record.outcome.rawValue, record.reason,
                    record.referenceID, details, hash,
                ])
                try statement.execute()
            }
        }
    }

    public func lastAuditChainLink() async throws -> (sequence: Int64, chainHash: [UInt8])? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT sequence, chain_hash FROM audit_records ORDER BY sequence DESC LIMIT 1")
                .map {
                    (try $0.decode(forColumn: "sequence"), Array(try $0.decode(Data.self, forColumn: "chain_hash")))
                }
        }
    }

    public func auditRecords(_ filter: AuditFilter, before cursor: Int64?, limit: Int) async throws -> [AuditRecord] {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        func add(_ condition: String, _ value: (any DatabaseValueConvertible)?) {
            guard let value else { return }
            conditions.append(condition)
            arguments.append(value)
        }
        add("tenant_id = ?", filter.tenant?.rawValue)
        add("actor = ?", filter.actor)
        add("action = ?", filter.action)
        add("outcome = ?", filter.outcome?.rawValue)
        add("at >= ?", filter.from)
        add("at < ?", filter.to)
        add("reference_id = ?", filter.referenceID)
        add("sequence < ?", cursor)
        let clause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT * FROM audit_records \(clause) ORDER BY sequence DESC LIMIT \(limit)"
        let statementArguments = StatementArguments(arguments)
        return try await read { db in
            try Row.fetchAll(db, sql: sql, arguments: statementArguments).map(Self.auditRecord)
        }
    }

    public func auditChain(after sequence: Int64, limit: Int) async throws
        -> [(record: AuditRecord, chainHash: [UInt8])]
    {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM audit_records WHERE sequence > ? ORDER BY sequence LIMIT ?",
                arguments: [sequence, limit]
            ).map { (try Self.auditRecord($0), Array(try $0.decode(Data.self, forColumn: "chain_hash"))) }
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
                            (SELECT sequence FROM audit_records WHERE at < ? ORDER BY sequence LIMIT ?)
                        ORDER BY sequence DESC LIMIT 1
                        """, arguments: [at, limit])
            else { return nil }
            let sequence: Int64 = try last.decode(forColumn: "sequence")
            try db.execute(sql: "DELETE FROM audit_records WHERE sequence <= ?", arguments: [sequence])
            return (sequence, Array(try last.decode(Data.self, forColumn: "chain_hash")))
        }
    }

    private static func auditRecord(_ row: Row) throws -> AuditRecord {
        guard let outcome = AuditRecord.Outcome(rawValue: try row.decode(forColumn: "outcome")) else {
            throw WardenError(.storeUnavailable, "A stored audit outcome is not known.")
        }
        return AuditRecord(
            sequence: try row.decode(forColumn: "sequence"), at: try row.decode(forColumn: "at"),
            tenant: try row.decode(String?.self, forColumn: "tenant_id").map(TenantID.init),
            actorKind: try row.decode(forColumn: "actor_kind"), actor: try row.decode(forColumn: "actor"),
            sourceIP: try row.decode(forColumn: "source_ip"), action: try row.decode(forColumn: "action"),
            target: try row.decode(forColumn: "target"), outcome: outcome, reason: try row.decode(forColumn: "reason"),
            referenceID: try row.decode(forColumn: "reference_id"),
            details: try JSONColumn.decode(
                [String: String].self, try row.decode(forColumn: "details"), column: "details"))
    }
}
