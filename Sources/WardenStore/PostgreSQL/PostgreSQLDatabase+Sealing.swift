import Foundation
import PostgresNIO
public import WardenCore

extension PostgreSQLDatabase: SealedSecretStore {
    public func dataKey(_ name: String, orStore initial: SecretBytes) async throws -> SecretBytes {
        let context = SQLiteDatabase.dataKeyContext(name)
        let candidate = Data(try sealer.seal(initial, context: context))
        let sealed = try await write { connection -> Data in
            try await connection.run(
                """
                INSERT INTO data_keys (name, sealed_key, created_at) VALUES (\(name), \(candidate), \(Date()))
                ON CONFLICT DO NOTHING
                """)
            guard let row = try await connection.rows("SELECT sealed_key FROM data_keys WHERE name = \(name)").first
            else { throw WardenError(.storeUnavailable, "The data key '\(name)' vanished as it was stored.") }
            return try row.value("sealed_key")
        }
        return try sealer.open(Array(sealed), context: context)
    }

    public func resealSecrets() async throws -> [String: Int] {
        try await SealedColumn.resealAll { column, after in
            let sealer = self.sealer
            return try await write { connection in
                var bindings = PostgresBindings()
                for value in after ?? [] { bindings.append(value) }
                let placeholders = (after ?? []).indices.map { "$\($0 + 1)" }.joined(separator: ", ")
                let rows = try await connection.rows(
                    PostgresQuery(
                        unsafeSQL: column.selectBatch(after: after == nil ? nil : placeholders), binds: bindings))
                let batch = try column.reseal(rows, sealer: sealer)
                let match = column.primaryKey.indices.map { "\(column.primaryKey[$0]) = $\($0 + 2)" }
                    .joined(separator: " AND ")
                for (value, key) in batch.updates {
                    var update = PostgresBindings()
                    try update.append(value)
                    for part in key { update.append(part) }
                    try await connection.run(
                        PostgresQuery(
                            unsafeSQL: "UPDATE \(column.table) SET \(column.column) = $1 WHERE \(match)", binds: update)
                    )
                }
                return batch
            }
        }
    }
}
