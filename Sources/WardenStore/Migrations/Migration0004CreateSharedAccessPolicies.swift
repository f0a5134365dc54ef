import GRDB

/// Tenant-level shared access policies with sealed keys.
enum Migration0004CreateSharedAccessPolicies: StoreMigration {
    static let identifier = "0004-create-shared-access-policies"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE shared_access_policies (
            tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
            name TEXT COLLATE "C" NOT NULL,
            permissions_json TEXT COLLATE "C" NOT NULL,
            sealed_primary_key BYTEA NOT NULL,
            sealed_secondary_key BYTEA NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (tenant_id, name)
        )
        """
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE shared_access_policies (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    name TEXT NOT NULL,
                    permissions_json TEXT NOT NULL,
                    sealed_primary_key BLOB NOT NULL,
                    sealed_secondary_key BLOB NOT NULL,
                    created_at TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, name)
                ) STRICT, WITHOUT ROWID;
                """)
    }
}
