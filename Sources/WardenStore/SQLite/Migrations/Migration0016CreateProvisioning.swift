import GRDB

/// Zero-touch provisioning (issue 15, DPS): each tenant's ID scope, its enrollments (groups and individual
/// devices, keys sealed), and the devices that registered through them.
enum Migration0016CreateProvisioning {
    static let identifier = "0016-create-provisioning"

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
