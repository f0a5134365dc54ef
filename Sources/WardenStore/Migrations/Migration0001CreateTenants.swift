import GRDB

/// Tenants, their admission rules (access list, IP filter) and management credential hashes.
enum Migration0001CreateTenants: StoreMigration {
    static let identifier = "0001-create-tenants"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE tenants (
            id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
            host_name TEXT COLLATE "C" NOT NULL UNIQUE,
            created_at TIMESTAMPTZ NOT NULL
        )
        """,
        """
        CREATE TABLE access_lists (
            tenant_id TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            allow_json TEXT COLLATE "C" NOT NULL,
            block_json TEXT COLLATE "C" NOT NULL,
            etag TEXT COLLATE "C" NOT NULL
        )
        """,
        """
        CREATE TABLE ip_filters (
            tenant_id TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            default_action TEXT COLLATE "C" NOT NULL CHECK (default_action IN ('accept', 'reject')),
            rules_json TEXT COLLATE "C" NOT NULL,
            etag TEXT COLLATE "C" NOT NULL
        )
        """,
        """
        CREATE TABLE management_credentials (
            name TEXT COLLATE "C" PRIMARY KEY NOT NULL,
            credential_hash BYTEA NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        )
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE tenants (
                    id TEXT PRIMARY KEY NOT NULL,
                    host_name TEXT NOT NULL UNIQUE,
                    created_at TEXT NOT NULL
                ) STRICT;
                CREATE TABLE access_lists (
                    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                    allow_json TEXT NOT NULL,
                    block_json TEXT NOT NULL,
                    etag TEXT NOT NULL
                ) STRICT;
                CREATE TABLE ip_filters (
                    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                    default_action TEXT NOT NULL CHECK (default_action IN ('accept', 'reject')),
                    rules_json TEXT NOT NULL,
                    etag TEXT NOT NULL
                ) STRICT;
                CREATE TABLE management_credentials (
                    name TEXT PRIMARY KEY NOT NULL,
                    credential_hash BLOB NOT NULL,
                    created_at TEXT NOT NULL
                ) STRICT;
                """)
    }
}
