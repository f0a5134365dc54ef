import GRDB

/// Issuing CAs and what they issued (issue 15): a CA's key, sealed, beside its row; every certificate it
/// signed with its status. A key's `storage` names where it lives (`sealed` here; `pkcs11` when a hardware
/// token holds it and `sealed_key` is empty).
enum Migration0014CreateIssuedCertificates: StoreMigration {
    static let identifier = "0014-create-issued-certificates"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        ALTER TABLE certificate_authorities ADD COLUMN issuing BOOLEAN NOT NULL DEFAULT false
        """,
        """
        CREATE TABLE certificate_authority_keys (
            tenant_id TEXT COLLATE "C" NOT NULL,
            name TEXT COLLATE "C" NOT NULL,
            storage TEXT COLLATE "C" NOT NULL,
            sealed_key BYTEA,
            PRIMARY KEY (tenant_id, name),
            FOREIGN KEY (tenant_id, name) REFERENCES certificate_authorities(tenant_id, name) ON DELETE CASCADE
        )
        """,
        """
        CREATE TABLE issued_certificates (
            tenant_id TEXT COLLATE "C" NOT NULL,
            serial TEXT COLLATE "C" NOT NULL,
            authority TEXT COLLATE "C" NOT NULL,
            issuer_thumbprint TEXT COLLATE "C" NOT NULL,
            device_id TEXT COLLATE "C" NOT NULL,
            thumbprint TEXT COLLATE "C" NOT NULL,
            certificate_pem TEXT COLLATE "C" NOT NULL,
            not_valid_before TIMESTAMPTZ NOT NULL,
            not_valid_after TIMESTAMPTZ NOT NULL,
            issued_at TIMESTAMPTZ NOT NULL,
            issued_by TEXT COLLATE "C" NOT NULL,
            renewed_from TEXT COLLATE "C",
            revoked_at TIMESTAMPTZ,
            revocation_reason TEXT COLLATE "C",
            PRIMARY KEY (tenant_id, serial),
            FOREIGN KEY (tenant_id, authority) REFERENCES certificate_authorities(tenant_id, name)
                ON DELETE CASCADE
        )
        """,
        """
        CREATE INDEX issued_certificates_by_device ON issued_certificates (tenant_id, device_id)
        """,
        """
        CREATE INDEX issued_certificates_revoked ON issued_certificates (tenant_id, authority)
            WHERE revoked_at IS NOT NULL
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE certificate_authorities ADD COLUMN issuing INTEGER NOT NULL DEFAULT 0;
                CREATE TABLE certificate_authority_keys (
                    tenant_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    storage TEXT NOT NULL,
                    sealed_key BLOB,
                    PRIMARY KEY (tenant_id, name),
                    FOREIGN KEY (tenant_id, name) REFERENCES certificate_authorities(tenant_id, name) ON DELETE CASCADE
                ) STRICT, WITHOUT ROWID;
                CREATE TABLE issued_certificates (
                    tenant_id TEXT NOT NULL,
                    serial TEXT NOT NULL,
                    authority TEXT NOT NULL,
                    issuer_thumbprint TEXT NOT NULL,
                    device_id TEXT NOT NULL,
                    thumbprint TEXT NOT NULL,
                    certificate_pem TEXT NOT NULL,
                    not_valid_before TEXT NOT NULL,
                    not_valid_after TEXT NOT NULL,
                    issued_at TEXT NOT NULL,
                    issued_by TEXT NOT NULL,
                    renewed_from TEXT,
                    revoked_at TEXT,
                    revocation_reason TEXT,
                    PRIMARY KEY (tenant_id, serial),
                    FOREIGN KEY (tenant_id, authority) REFERENCES certificate_authorities(tenant_id, name)
                        ON DELETE CASCADE
                ) STRICT, WITHOUT ROWID;
                CREATE INDEX issued_certificates_by_device ON issued_certificates (tenant_id, device_id);
                CREATE INDEX issued_certificates_revoked ON issued_certificates (tenant_id, authority)
                    WHERE revoked_at IS NOT NULL;
                """)
    }
}
