import GRDB

/// Device-to-cloud messages (issue 4), in the order the hub accepted them. The property bag stays text as the
/// device wrote it; `sequence` is the hub's own number, so the table needs no second key.
enum Migration0007CreateTelemetry: StoreMigration {
    static let identifier = "0007-create-telemetry"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE telemetry (
            sequence BIGINT PRIMARY KEY,
            tenant_id TEXT COLLATE "C" NOT NULL,
            device_id TEXT COLLATE "C" NOT NULL,
            enqueued_at BIGINT NOT NULL,
            auth_method TEXT COLLATE "C" NOT NULL,
            properties TEXT COLLATE "C" NOT NULL,
            body BYTEA NOT NULL
        )
        """,
        """
        CREATE INDEX telemetry_by_device ON telemetry (tenant_id, device_id, sequence)
        """,
        """
        CREATE INDEX telemetry_by_time ON telemetry (enqueued_at)
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE telemetry (
                    sequence INTEGER PRIMARY KEY,
                    tenant_id TEXT NOT NULL,
                    device_id TEXT NOT NULL,
                    enqueued_at INTEGER NOT NULL,
                    auth_method TEXT NOT NULL,
                    properties TEXT NOT NULL,
                    body BLOB NOT NULL
                ) STRICT;
                CREATE INDEX telemetry_by_device ON telemetry (tenant_id, device_id, sequence);
                CREATE INDEX telemetry_by_time ON telemetry (enqueued_at);
                """)
    }
}
