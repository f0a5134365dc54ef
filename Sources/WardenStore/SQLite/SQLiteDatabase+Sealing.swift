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
        try await SealedColumn.resealAll { column, after in
            let sealer = self.sealer
            return try await write { db in
                var arguments = StatementArguments()
                for value in after ?? [] { arguments += [value] }
                let placeholders = (after ?? []).map { _ in "?" }.joined(separator: ", ")
                let rows = try Row.fetchAll(
                    db, sql: column.selectBatch(after: after == nil ? nil : placeholders), arguments: arguments)
                let batch = try column.reseal(rows, sealer: sealer)
                let match = column.primaryKey.map { "\($0) = ?" }.joined(separator: " AND ")
                for (value, key) in batch.updates {
                    try db.execute(
                        sql: "UPDATE \(column.table) SET \(column.column) = ? WHERE \(match)",
                        arguments: StatementArguments([value] + key))
                }
                return batch
            }
        }
    }

    /// What a data key is bound to.
    static func dataKeyContext(_ name: String) -> String { "data_keys/\(name)" }
}
