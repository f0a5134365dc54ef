import GRDB

/// People, service principals, their roles per tenant, API keys, refresh tokens and the access-token signing
/// keys (issue 5). Secrets are sealed (TOTP, signing keys) or stored as hashes (passwords, refresh tokens,
/// API keys, client secrets).
enum Migration0010CreateAccess: StoreMigration {
    static let identifier = "0010-create-access"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE users (
            id TEXT COLLATE "C" PRIMARY KEY,
            username TEXT COLLATE "C" NOT NULL UNIQUE,
            password_hash TEXT COLLATE "C" NOT NULL,
            enabled BOOLEAN NOT NULL,
            platform_admin BOOLEAN NOT NULL,
            totp_secret BYTEA,
            pending_totp_secret BYTEA,
            last_totp_step BIGINT,
            must_change_password BOOLEAN NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        )
        """,
        """
        CREATE TABLE service_principals (
            id TEXT COLLATE "C" PRIMARY KEY,
            name TEXT COLLATE "C" NOT NULL,
            secret_hash BYTEA NOT NULL,
            enabled BOOLEAN NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        )
        """,
        """
        CREATE TABLE role_bindings (
            subject_id TEXT COLLATE "C" NOT NULL,
            tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            role TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (subject_id, tenant_id)
        )
        """,
        """
        CREATE TABLE api_keys (
            id TEXT COLLATE "C" PRIMARY KEY,
            tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            name TEXT COLLATE "C" NOT NULL,
            permissions TEXT COLLATE "C" NOT NULL,
            device_group TEXT COLLATE "C",
            expires_at TIMESTAMPTZ,
            revoked_at TIMESTAMPTZ,
            last_used_at TIMESTAMPTZ,
            created_by TEXT COLLATE "C" NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            secret_hash BYTEA NOT NULL UNIQUE
        )
        """,
        """
        CREATE TABLE refresh_tokens (
            hash BYTEA PRIMARY KEY,
            family TEXT COLLATE "C" NOT NULL,
            user_id TEXT COLLATE "C" NOT NULL,
            issued_at TIMESTAMPTZ NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL,
            used_at TIMESTAMPTZ,
            revoked_at TIMESTAMPTZ
        )
        """,
        """
        CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family)
        """,
        """
        CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id)
        """,
        """
        CREATE TABLE access_token_keys (
            id TEXT COLLATE "C" PRIMARY KEY,
            private_key BYTEA NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        )
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE users (
                    id TEXT PRIMARY KEY,
                    username TEXT NOT NULL UNIQUE,
                    password_hash TEXT NOT NULL,
                    enabled INTEGER NOT NULL,
                    platform_admin INTEGER NOT NULL,
                    totp_secret BLOB,
                    pending_totp_secret BLOB,
                    last_totp_step INTEGER,
                    must_change_password INTEGER NOT NULL,
                    created_at TEXT NOT NULL
                ) STRICT, WITHOUT ROWID;
                CREATE TABLE service_principals (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    secret_hash BLOB NOT NULL,
                    enabled INTEGER NOT NULL,
                    created_at TEXT NOT NULL
                ) STRICT, WITHOUT ROWID;
                CREATE TABLE role_bindings (
                    subject_id TEXT NOT NULL,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                    role TEXT NOT NULL,
                    PRIMARY KEY (subject_id, tenant_id)
                ) STRICT, WITHOUT ROWID;
                CREATE TABLE api_keys (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    permissions TEXT NOT NULL,
                    device_group TEXT,
                    expires_at TEXT,
                    revoked_at TEXT,
                    last_used_at TEXT,
                    created_by TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    secret_hash BLOB NOT NULL UNIQUE
                ) STRICT, WITHOUT ROWID;
                CREATE TABLE refresh_tokens (
                    hash BLOB PRIMARY KEY,
                    family TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    issued_at TEXT NOT NULL,
                    expires_at TEXT NOT NULL,
                    used_at TEXT,
                    revoked_at TEXT
                ) STRICT, WITHOUT ROWID;
                CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family);
                CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id);
                CREATE TABLE access_token_keys (
                    id TEXT PRIMARY KEY,
                    private_key BLOB NOT NULL,
                    created_at TEXT NOT NULL
                ) STRICT, WITHOUT ROWID;
                """)
    }
}
