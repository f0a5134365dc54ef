import GRDB

/// Device twins (issue 4): each section as a JSON document with its version and per-property update times.
enum Migration0009CreateTwins: StoreMigration {
    static let identifier = "0009-create-twins"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE device_twins (
            tenant_id TEXT COLLATE "C" NOT NULL,
            device_id TEXT COLLATE "C" NOT NULL,
            desired TEXT COLLATE "C" NOT NULL,
            desired_version BIGINT NOT NULL,
            desired_updated TEXT COLLATE "C" NOT NULL,
            reported TEXT COLLATE "C" NOT NULL,
            reported_version BIGINT NOT NULL,
            reported_updated TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (tenant_id, device_id)
        )
        """
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE device_twins (
                    tenant_id TEXT NOT NULL,
                    device_id TEXT NOT NULL,
                    desired TEXT NOT NULL,
                    desired_version INTEGER NOT NULL,
                    desired_updated TEXT NOT NULL,
                    reported TEXT NOT NULL,
                    reported_version INTEGER NOT NULL,
                    reported_updated TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, device_id)
                ) STRICT, WITHOUT ROWID;
                """)
    }
}
