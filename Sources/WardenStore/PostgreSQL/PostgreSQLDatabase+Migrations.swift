import PostgresNIO
import WardenCore

extension PostgreSQLDatabase {
    /// The advisory lock nodes take to migrate one at a time ("Warden" in ASCII).
    static let migrationLock: Int64 = 0x5761_7264_656E

    /// Applies the migrations the database lacks in one transaction, holding `migrationLock` so that nodes
    /// starting together migrate once. Read committed, not serialisable: a node that waited for the lock must
    /// see what the one before it committed.
    func migrate(waiting: Duration) async throws {
        do {
            try await transaction("BEGIN", waiting: waiting) { connection in
                try await connection.run("SELECT pg_advisory_xact_lock(\(Self.migrationLock))")
                let tables = try await connection.rows(
                    "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = current_schema()"
                ).map { try $0.value("name") as String }
                if !tables.isEmpty, !tables.contains("warden_migrations") {
                    throw WardenError(
                        .storeUnusable,
                        "The database holds tables (\(tables.sorted().prefix(5).joined(separator: ", "))) but is not "
                            + "a Warden database; nothing was changed.")
                }
                try await connection.run(
                    """
                    CREATE TABLE IF NOT EXISTS warden_migrations (
                        identifier TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                    """)
                let applied = Set(
                    try await connection.rows("SELECT identifier FROM warden_migrations")
                        .map { try $0.value("identifier") as String })
                guard applied.isSubset(of: StoreMigrations.all.map(\.identifier)) else {
                    throw WardenError(
                        .storeUnusable,
                        "The database was migrated by a newer Warden; run that version or restore a backup.")
                }
                for migration in StoreMigrations.all where !applied.contains(migration.identifier) {
                    for statement in migration.postgres {
                        try await connection.run(PostgresQuery(unsafeSQL: statement))
                    }
                    try await connection.run(
                        "INSERT INTO warden_migrations (identifier) VALUES (\(migration.identifier))")
                }
            }
        } catch {
            throw Self.mapped(error, "migration")
        }
    }
}
