import GRDB

/// Devices; key columns hold AES-GCM envelopes (never plaintext), as their names say.
enum Migration0002CreateDevices: StoreMigration {
    static let identifier = "0002-create-devices"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE devices (
            tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
            device_id TEXT COLLATE "C" NOT NULL,
            generation_id TEXT COLLATE "C" NOT NULL,
            etag TEXT COLLATE "C" NOT NULL,
            status TEXT COLLATE "C" NOT NULL CHECK (status IN ('enabled', 'disabled')),
            status_reason TEXT COLLATE "C",
            status_updated_at TIMESTAMPTZ NOT NULL,
            auth_type TEXT COLLATE "C" NOT NULL CHECK (auth_type IN ('sas', 'x509-thumbprint', 'x509-ca')),
            sealed_primary_key BYTEA,
            sealed_secondary_key BYTEA,
            primary_thumbprint TEXT COLLATE "C",
            secondary_thumbprint TEXT COLLATE "C",
            attributes_json TEXT COLLATE "C" NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (tenant_id, device_id)
        )
        """
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE devices (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    device_id TEXT NOT NULL,
                    generation_id TEXT NOT NULL,
                    etag TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
                    status_reason TEXT,
                    status_updated_at TEXT NOT NULL,
                    auth_type TEXT NOT NULL CHECK (auth_type IN ('sas', 'x509-thumbprint', 'x509-ca')),
                    sealed_primary_key BLOB,
                    sealed_secondary_key BLOB,
                    primary_thumbprint TEXT,
                    secondary_thumbprint TEXT,
                    attributes_json TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, device_id)
                ) STRICT, WITHOUT ROWID;
                """)
    }
}
