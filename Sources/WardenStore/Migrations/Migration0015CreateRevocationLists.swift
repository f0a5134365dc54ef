import GRDB

/// External CAs' revocation checks and the CRL in force for each (issue 15): the mode, where it is fetched from,
/// and the CRL's DER as last accepted, with what Warden read from it.
enum Migration0015CreateRevocationLists: StoreMigration {
    static let identifier = "0015-create-revocation-lists"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        ALTER TABLE certificate_authorities ADD COLUMN revocation_mode TEXT COLLATE "C" NOT NULL DEFAULT 'off'
        """,
        """
        ALTER TABLE certificate_authorities ADD COLUMN crl_url TEXT COLLATE "C"
        """,
        """
        ALTER TABLE certificate_authorities ADD COLUMN crl_refresh BIGINT NOT NULL DEFAULT 3600
        """,
        """
        CREATE TABLE certificate_revocation_lists (
            tenant_id TEXT COLLATE "C" NOT NULL,
            name TEXT COLLATE "C" NOT NULL,
            der BYTEA NOT NULL,
            this_update TIMESTAMPTZ NOT NULL,
            next_update TIMESTAMPTZ,
            number TEXT COLLATE "C",
            source TEXT COLLATE "C" NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (tenant_id, name),
            FOREIGN KEY (tenant_id, name) REFERENCES certificate_authorities(tenant_id, name) ON DELETE CASCADE
        )
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE certificate_authorities ADD COLUMN revocation_mode TEXT NOT NULL DEFAULT 'off';
                ALTER TABLE certificate_authorities ADD COLUMN crl_url TEXT;
                ALTER TABLE certificate_authorities ADD COLUMN crl_refresh INTEGER NOT NULL DEFAULT 3600;
                CREATE TABLE certificate_revocation_lists (
                    tenant_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    der BLOB NOT NULL,
                    this_update TEXT NOT NULL,
                    next_update TEXT,
                    number TEXT,
                    source TEXT NOT NULL,
                    updated_at TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, name),
                    FOREIGN KEY (tenant_id, name) REFERENCES certificate_authorities(tenant_id, name) ON DELETE CASCADE
                ) STRICT, WITHOUT ROWID;
                """)
    }
}
