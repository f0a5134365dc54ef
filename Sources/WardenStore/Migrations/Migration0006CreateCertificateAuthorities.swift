import GRDB

/// Tenants' CA certificates for `x509-ca` devices, with their proof-of-possession state (issue 3).
enum Migration0006CreateCertificateAuthorities: StoreMigration {
    static let identifier = "0006-create-certificate-authorities"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE certificate_authorities (
            tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
            name TEXT COLLATE "C" NOT NULL,
            certificate_pem TEXT COLLATE "C" NOT NULL,
            thumbprint TEXT COLLATE "C" NOT NULL,
            subject TEXT COLLATE "C" NOT NULL,
            not_valid_after TIMESTAMPTZ NOT NULL,
            verified BOOLEAN NOT NULL,
            verification_code TEXT COLLATE "C",
            created_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (tenant_id, name),
            UNIQUE (tenant_id, thumbprint)
        )
        """
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE certificate_authorities (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    name TEXT NOT NULL,
                    certificate_pem TEXT NOT NULL,
                    thumbprint TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    not_valid_after TEXT NOT NULL,
                    verified INTEGER NOT NULL,
                    verification_code TEXT,
                    created_at TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, name),
                    UNIQUE (tenant_id, thumbprint)
                ) STRICT, WITHOUT ROWID;
                """)
    }
}
