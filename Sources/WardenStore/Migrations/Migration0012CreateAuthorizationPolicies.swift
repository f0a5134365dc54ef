import GRDB

/// Tenants' authorization policy documents (issue 14): every version kept as written, the newest in force.
enum Migration0012CreateAuthorizationPolicies: StoreMigration {
    static let identifier = "0012-create-authorization-policies"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE authorization_policies (
            tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
            version BIGINT NOT NULL,
            document TEXT COLLATE "C" NOT NULL,
            author TEXT COLLATE "C" NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            restored_from BIGINT,
            audit_only BOOLEAN NOT NULL,
            PRIMARY KEY (tenant_id, version)
        )
        """
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE authorization_policies (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    version INTEGER NOT NULL,
                    document TEXT NOT NULL,
                    author TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    restored_from INTEGER,
                    audit_only INTEGER NOT NULL,
                    PRIMARY KEY (tenant_id, version)
                ) STRICT, WITHOUT ROWID;
                """)
    }
}
