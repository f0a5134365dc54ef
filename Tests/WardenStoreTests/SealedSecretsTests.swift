import Foundation
import GRDB
import PostgresNIO
import Testing
import WardenCore
import WardenSecurity

@testable import WardenStore

struct SealedSecretsTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// BLOB columns that hold no secret: message bodies, hashes, the audit chain, public DER, node identities.
    static let openColumns: Set<String> = [
        "mqtt_retained.payload", "mqtt_retained.properties", "mqtt_retained.stamp_node",
        "mqtt_session_messages.payload",
        "mqtt_session_messages.properties", "telemetry.body", "c2d_messages.body",
        "management_credentials.credential_hash", "service_principals.secret_hash", "api_keys.secret_hash",
        "refresh_tokens.hash", "audit_records.chain_hash", "certificate_revocation_lists.der",
        "provisioning_operations.body",
    ]

    /// A new secret column that the rotation did not know would stay under the old key and stop opening once
    /// the rotation ends: every BLOB column is either re-sealed or known to hold no secret.
    @Test func everyBlobColumnIsResealedOrHoldsNoSecret() async throws {
        let temporary = try TemporaryDatabase()
        let blobs = try await temporary.database.pool.read { db in
            var found: [String] = []
            for table in try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            {
                for column in try Row.fetchAll(
                    db, sql: "SELECT name, type FROM pragma_table_info(?)", arguments: [table])
                where (column["type"] as String?) == "BLOB" {
                    found.append("\(table).\(column["name"] as String)")
                }
            }
            return found
        }
        let resealed = Set(SealedColumn.all.map { "\($0.table).\($0.column)" })
        let unknown = blobs.filter { !resealed.contains($0) && !Self.openColumns.contains($0) }
        #expect(unknown.isEmpty, "BLOB columns neither re-sealed nor known to be open: \(unknown)")
        #expect(resealed.isSubset(of: Set(blobs)))
        #expect(Self.openColumns.subtracting(blobs).isEmpty, "\(Self.openColumns.subtracting(blobs))")
    }

    /// The same for PostgreSQL's schema (its BYTEA columns).
    @Test func everyByteaColumnIsResealedOrHoldsNoSecret() async throws {
        try await StoreEngine.postgresql.withFreshStore { fresh in
            let database = try #require(fresh.store as? PostgreSQLDatabase)
            let blobs = try await database.read { connection in
                try await connection.rows(
                    """
                    SELECT (table_name || '.' || column_name)::text AS name FROM information_schema.columns
                    WHERE table_schema = current_schema() AND data_type = 'bytea'
                    """
                ).map { try $0.value("name") as String }
            }
            let resealed = Set(SealedColumn.all.map { "\($0.table).\($0.column)" })
            #expect(Set(blobs) == resealed.union(Self.openColumns))
        }
    }

    @Test(arguments: StoreEngine.allCases) func resealingMovesEveryValueToTheNewKeyOnce(engine: StoreEngine)
        async throws
    {
        let (old, new) = (MasterKey.generate(), MasterKey.generate())
        let ring = SealingKeyRing(current: old)
        try await engine.withFreshStore(sealer: ring) { fresh in
            let database = fresh.store
            _ = try await database.createTenant(
                Tenant(id: .defaultTenant, hostName: .localhost, createdAt: now), etag: "t")
            var keys: [DeviceID: SASKeyPair] = [:]
            // More than one batch.
            for index in 0..<(SealedColumn.batchSize + 7) {
                let id = try DeviceID("dev-\(index)")
                keys[id] = .random()
                _ = try await database.createDevice(
                    Device(
                        tenantID: .defaultTenant, id: id, generationID: "g\(index)", etag: "e", status: .enabled,
                        statusReason: nil, statusUpdatedAt: now, authentication: .sas(keys[id]!), attributes: [:],
                        createdAt: now, updatedAt: now))
            }
            let dataKey = try await database.dataKey("test.key", orStore: .random(count: 32))

            ring.begin(next: new)
            let counts = try await database.resealSecrets()
            #expect(counts["devices"] == 2 * keys.count)
            #expect(counts["data_keys"] == 1)
            #expect(try await database.resealSecrets().values.allSatisfy { $0 == 0 })

            let reopened = try await fresh.reopen(sealer: SealingKeyRing(current: new))
            for (id, pair) in keys {
                let device = try #require(try await reopened.device(.defaultTenant, id))
                guard case .sas(let opened) = device.authentication else {
                    Issue.record("not SAS")
                    return
                }
                #expect(opened.primary.bytes == pair.primary.bytes && opened.secondary.bytes == pair.secondary.bytes)
            }
            #expect(try await reopened.dataKey("test.key", orStore: .random(count: 32)).bytes == dataKey.bytes)
            await #expect(throws: WardenError.self) {
                _ = try await fresh.reopen(sealer: SealingKeyRing(current: old)).device(
                    .defaultTenant, try DeviceID("dev-0"))
            }
        }
    }
}
