import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: SealedSecretStore {
    public func dataKey(_ name: String, orStore initial: SecretBytes) async throws -> SecretBytes {
        let context = Self.dataKeyContext(name)
        let candidate = Data(try sealer.seal(initial, context: context))
        let sealed = try await write { db -> Data in
            try db.execute(
                sql: "INSERT INTO data_keys (name, sealed_key, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                arguments: [name, candidate, Date()])
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT sealed_key FROM data_keys WHERE name = ?", arguments: [name])
            else { throw WardenError(.storeUnavailable, "The data key '\(name)' vanished as it was stored.") }
            return try row.decode(forColumn: "sealed_key")
        }
        return try sealer.open(Array(sealed), context: context)
    }

    public func resealSecrets() async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for column in Self.sealedColumns {
            var after: [DatabaseValue]? = nil
            repeat {
                let (resealed, unreadable, last) = try await resealBatch(column, after: after)
                counts[column.table, default: 0] += resealed
                if unreadable > 0 { counts["unreadable." + column.table, default: 0] += unreadable }
                after = last
            } while after != nil
        }
        return counts
    }

    /// What a data key is bound to.
    static func dataKeyContext(_ name: String) -> String { "data_keys/\(name)" }

    /// One sealed column: the table's primary key (rows are visited in its order), the columns its context is
    /// made of, and how.
    struct SealedColumn: Sendable {
        let table: String
        let column: String
        let primaryKey: [String]
        let contextColumns: [String]
        let context: @Sendable ([String]) -> String
    }

    /// Every sealed column of the schema. A new one must be added here, or a master-key rotation would leave it
    /// under the old key (`SealedColumnsTests` checks the schema for BLOB columns named as sealed).
    static let sealedColumns: [SealedColumn] = [
        SealedColumn(
            table: "devices", column: "sealed_primary_key", primaryKey: ["tenant_id", "device_id"],
            contextColumns: ["tenant_id", "device_id", "generation_id"]
        ) { DeviceRecord.keyContext($0[0], $0[1], $0[2], "primary") },
        SealedColumn(
            table: "devices", column: "sealed_secondary_key", primaryKey: ["tenant_id", "device_id"],
            contextColumns: ["tenant_id", "device_id", "generation_id"]
        ) { DeviceRecord.keyContext($0[0], $0[1], $0[2], "secondary") },
        SealedColumn(
            table: "shared_access_policies", column: "sealed_primary_key", primaryKey: ["tenant_id", "name"],
            contextColumns: ["tenant_id", "name"]
        ) { keyContext($0[0], $0[1], "primary") },
        SealedColumn(
            table: "shared_access_policies", column: "sealed_secondary_key", primaryKey: ["tenant_id", "name"],
            contextColumns: ["tenant_id", "name"]
        ) { keyContext($0[0], $0[1], "secondary") },
        SealedColumn(
            table: "users", column: "totp_secret", primaryKey: ["id"], contextColumns: ["id"]
        ) { userSecretContext($0[0], "totp") },
        SealedColumn(
            table: "users", column: "pending_totp_secret", primaryKey: ["id"], contextColumns: ["id"]
        ) { userSecretContext($0[0], "pending-totp") },
        SealedColumn(
            table: "access_token_keys", column: "private_key", primaryKey: ["id"], contextColumns: ["id"]
        ) { signingKeyContext($0[0]) },
        SealedColumn(
            table: "certificate_authority_keys", column: "sealed_key", primaryKey: ["tenant_id", "name"],
            contextColumns: ["tenant_id", "name"]
        ) { keyContext($0[0], $0[1]) },
        SealedColumn(
            table: "enrollments", column: "primary_key", primaryKey: ["tenant_id", "kind", "name"],
            contextColumns: ["tenant_id", "kind", "name"]
        ) { EnrollmentRow.context($0[0], $0[1], $0[2], "primary") },
        SealedColumn(
            table: "enrollments", column: "secondary_key", primaryKey: ["tenant_id", "kind", "name"],
            contextColumns: ["tenant_id", "kind", "name"]
        ) { EnrollmentRow.context($0[0], $0[1], $0[2], "secondary") },
        SealedColumn(
            table: "enrollments", column: "sealed_webhook", primaryKey: ["tenant_id", "kind", "name"],
            contextColumns: ["tenant_id", "kind", "name"]
        ) { EnrollmentRow.context($0[0], $0[1], $0[2], "webhook") },
        SealedColumn(table: "data_keys", column: "sealed_key", primaryKey: ["name"], contextColumns: ["name"]) {
            dataKeyContext($0[0])
        },
    ]

    /// Rows a re-sealing transaction visits: short enough that writers waiting behind it barely notice.
    static let resealBatchSize = 500

    /// Re-seals one batch of `column` after the primary key `after`, in one transaction (a writer changing a
    /// row waits for it, so nothing written meanwhile is overwritten); returns how many it re-sealed and the
    /// last key visited, nil at the end of the table.
    private func resealBatch(_ column: SealedColumn, after: [DatabaseValue]?) async throws
        -> (Int, Int, [DatabaseValue]?)
    {
        let sealer = self.sealer
        return try await write { db -> (Int, Int, [DatabaseValue]?) in
            try Self.resealBatch(column, after: after, sealer: sealer, db)
        }
    }

    /// A value that opens under neither key (damaged, or from another data directory) is left as it is and
    /// counted: it was unreadable before and stays so, and it must not stop the others from moving.
    private static func resealBatch(
        _ column: SealedColumn, after: [DatabaseValue]?, sealer: any SecretSealer, _ db: Database
    ) throws -> (Int, Int, [DatabaseValue]?) {
        let key = column.primaryKey.joined(separator: ", ")
        let selected = (column.primaryKey + column.contextColumns + [column.column]).joined(separator: ", ")
        let placeholders = column.primaryKey.map { _ in "?" }.joined(separator: ", ")
        let start = after == nil ? "" : "WHERE (\(key)) > (\(placeholders))"
        let rows = try Row.fetchAll(
            db, sql: "SELECT \(selected) FROM \(column.table) \(start) ORDER BY \(key) LIMIT \(resealBatchSize)",
            arguments: StatementArguments(after ?? []))
        let match = column.primaryKey.map { "\($0) = ?" }.joined(separator: " AND ")
        var resealed = 0
        var unreadable = 0
        for row in rows {
            let sealed: Data? = try row.decode(forColumn: column.column)
            // Empty: an enrollment without symmetric keys.
            guard let sealed, !sealed.isEmpty else { continue }
            let parts: [String] = try column.contextColumns.map { try row.decode(String.self, forColumn: $0) }
            let fresh: [UInt8]?
            do {
                fresh = try sealer.reseal(Array(sealed), context: column.context(parts))
            } catch {
                unreadable += 1
                continue
            }
            guard let fresh else { continue }
            let primaryKey: [DatabaseValue] = column.primaryKey.map { row[$0] as DatabaseValue }
            try db.execute(
                sql: "UPDATE \(column.table) SET \(column.column) = ? WHERE \(match)",
                arguments: StatementArguments([Data(fresh).databaseValue] + primaryKey))
            resealed += 1
        }
        guard rows.count == resealBatchSize, let last = rows.last else { return (resealed, unreadable, nil) }
        return (resealed, unreadable, column.primaryKey.map { last[$0] as DatabaseValue })
    }
}
