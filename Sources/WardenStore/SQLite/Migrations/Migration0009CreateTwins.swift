import GRDB

/// Device twins (issue 4): each section as a JSON document with its version and per-property update times.
enum Migration0009CreateTwins {
    static let identifier = "0009-create-twins"

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
