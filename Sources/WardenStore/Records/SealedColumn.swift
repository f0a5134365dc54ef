import Foundation
import WardenCore

/// One sealed column: the table's primary key (text in every such table; rows are visited in its order), the
/// columns its context is made of, and how. Re-sealing after a master-key rotation walks each in batches, one
/// transaction per batch (a writer changing a row waits for it, so nothing written meanwhile is overwritten),
/// the same way in both engines.
struct SealedColumn: Sendable {
    let table: String
    let column: String
    let primaryKey: [String]
    let contextColumns: [String]
    let context: @Sendable ([String]) -> String

    /// Rows a re-sealing transaction visits: short enough that writers waiting behind it barely notice.
    static let batchSize = 500

    /// One batch's outcome: the values to write (with their row's primary key), how many opened under no key,
    /// and the last key visited (nil at the end of the table).
    struct Batch: Sendable {
        var updates: [(Data, [String])] = []
        var unreadable = 0
        var last: [String]?
    }

    /// Runs `batch` over every sealed column until each is done; returns how many values each table had
    /// re-sealed, and as `unreadable.{table}` how many opened under no key.
    static func resealAll(_ batch: (SealedColumn, [String]?) async throws -> Batch) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for column in all {
            var after: [String]? = nil
            repeat {
                let outcome = try await batch(column, after)
                counts[column.table, default: 0] += outcome.updates.count
                if outcome.unreadable > 0 { counts["unreadable." + column.table, default: 0] += outcome.unreadable }
                after = outcome.last
            } while after != nil
        }
        return counts
    }

    /// The batch after `placeholders` (the engine's for the primary key's values), or the first.
    func selectBatch(after placeholders: String?) -> String {
        let key = primaryKey.joined(separator: ", ")
        let selected = (primaryKey + contextColumns + [column]).joined(separator: ", ")
        let start = placeholders.map { "WHERE (\(key)) > (\($0))" } ?? ""
        return "SELECT \(selected) FROM \(table) \(start) ORDER BY \(key) LIMIT \(Self.batchSize)"
    }

    /// What to write for these rows. A value that opens under neither key (damaged, or from another data
    /// directory) is left as it is and counted: it was unreadable before and stays so, and it must not stop the
    /// others from moving.
    func reseal(_ rows: [some StoreRow], sealer: any SecretSealer) throws -> Batch {
        var batch = Batch()
        for row in rows {
            let sealed: Data? = try row.value(column)
            // Empty: an enrollment without symmetric keys.
            guard let sealed, !sealed.isEmpty else { continue }
            let parts: [String] = try contextColumns.map { try row.value($0) }
            let fresh: [UInt8]?
            do {
                fresh = try sealer.reseal(Array(sealed), context: context(parts))
            } catch {
                batch.unreadable += 1
                continue
            }
            guard let fresh else { continue }
            batch.updates.append((Data(fresh), try primaryKey.map { try row.value($0) }))
        }
        if rows.count == Self.batchSize, let last = rows.last {
            batch.last = try primaryKey.map { try last.value($0) }
        }
        return batch
    }

    /// Every sealed column of the schema. A new one must be added here, or a master-key rotation would leave it
    /// under the old key (`SealedColumnsTests` checks the schema for BLOB columns named as sealed).
    static let all: [SealedColumn] = [
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
        ) { RegistryRows.policyKeyContext($0[0], $0[1], "primary") },
        SealedColumn(
            table: "shared_access_policies", column: "sealed_secondary_key", primaryKey: ["tenant_id", "name"],
            contextColumns: ["tenant_id", "name"]
        ) { RegistryRows.policyKeyContext($0[0], $0[1], "secondary") },
        SealedColumn(
            table: "users", column: "totp_secret", primaryKey: ["id"], contextColumns: ["id"]
        ) { AccessRows.userSecretContext($0[0], "totp") },
        SealedColumn(
            table: "users", column: "pending_totp_secret", primaryKey: ["id"], contextColumns: ["id"]
        ) { AccessRows.userSecretContext($0[0], "pending-totp") },
        SealedColumn(
            table: "access_token_keys", column: "private_key", primaryKey: ["id"], contextColumns: ["id"]
        ) { AccessRows.signingKeyContext($0[0]) },
        SealedColumn(
            table: "certificate_authority_keys", column: "sealed_key", primaryKey: ["tenant_id", "name"],
            contextColumns: ["tenant_id", "name"]
        ) { PKIRows.keyContext($0[0], $0[1]) },
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
            SQLiteDatabase.dataKeyContext($0[0])
        },
    ]
}
