import GRDB

/// Zero-touch provisioning (issue 15, DPS): each tenant's ID scope, its enrollments (groups and individual
/// devices, keys sealed), and the devices that registered through them.
enum Migration0016CreateProvisioning: StoreMigration {
    static let identifier = "0016-create-provisioning"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE provisioning_scopes (
            tenant_id TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES tenants(id),
            id_scope TEXT COLLATE "C" NOT NULL UNIQUE
        )
        """,
        """
        CREATE TABLE enrollments (
            tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
            kind TEXT COLLATE "C" NOT NULL,
            name TEXT COLLATE "C" NOT NULL,
            primary_key BYTEA NOT NULL,
            secondary_key BYTEA NOT NULL,
            enabled BOOLEAN NOT NULL,
            initial_desired TEXT COLLATE "C",
            device_id TEXT COLLATE "C",
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (tenant_id, kind, name)
        )
        """,
        """
        CREATE TABLE registrations (
            tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
            registration_id TEXT COLLATE "C" NOT NULL,
            enrollment TEXT COLLATE "C" NOT NULL,
            device_id TEXT COLLATE "C" NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (tenant_id, registration_id)
        )
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE provisioning_scopes (
                    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants(id),
                    id_scope TEXT NOT NULL UNIQUE
                ) STRICT, WITHOUT ROWID;
                CREATE TABLE enrollments (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    kind TEXT NOT NULL,
                    name TEXT NOT NULL,
                    primary_key BLOB NOT NULL,
                    secondary_key BLOB NOT NULL,
                    enabled INTEGER NOT NULL,
                    initial_desired TEXT,
                    device_id TEXT,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, kind, name)
                ) STRICT, WITHOUT ROWID;
                CREATE TABLE registrations (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    registration_id TEXT NOT NULL,
                    enrollment TEXT NOT NULL,
                    device_id TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, registration_id)
                ) STRICT, WITHOUT ROWID;
                """)
    }
}
