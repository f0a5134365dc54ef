import GRDB

/// DPS registrations' operations, kept for their status polls (ten minutes) where any node can read them: a
/// device polling over HTTPS through a load balancer may reach another node than the one it registered with
/// (issue 18). The body is DPS's answer, which holds no secret; a tenant's go when they expire.
enum Migration0029CreateProvisioningOperations: StoreMigration {
    static let identifier = "0029-create-provisioning-operations"

    static let postgres = [
        """
        CREATE TABLE provisioning_operations (
            id TEXT COLLATE "C" PRIMARY KEY,
            tenant_id TEXT COLLATE "C" NOT NULL,
            registration_id TEXT COLLATE "C" NOT NULL,
            enrollment TEXT COLLATE "C" NOT NULL,
            body BYTEA NOT NULL,
            expires_at BIGINT NOT NULL
        )
        """,
        """
        CREATE INDEX provisioning_operations_by_expiry ON provisioning_operations (expires_at)
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE provisioning_operations (
                    id TEXT NOT NULL PRIMARY KEY,
                    tenant_id TEXT NOT NULL,
                    registration_id TEXT NOT NULL,
                    enrollment TEXT NOT NULL,
                    body BLOB NOT NULL,
                    expires_at INTEGER NOT NULL
                ) STRICT, WITHOUT ROWID;
                CREATE INDEX provisioning_operations_by_expiry ON provisioning_operations (expires_at);
                """)
    }
}
