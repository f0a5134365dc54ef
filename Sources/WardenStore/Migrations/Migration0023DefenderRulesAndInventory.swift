import GRDB

/// Each tenant's Defender rules document (issue 16), gone with the tenant (a tenant without one has the
/// platform's rules); each device's last connection as the inventory reports it, gone with the device; and the
/// audit checks' recent reports (JSON, the newest kept); and the audit log indexed by action, for the posture
/// report's last backup.
enum Migration0023DefenderRulesAndInventory: StoreMigration {
    static let identifier = "0023-defender-rules-and-inventory"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE defender_rules (
            tenant_id TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
            document TEXT COLLATE "C" NOT NULL
        )
        """,
        """
        CREATE TABLE device_sightings (
            tenant_id TEXT COLLATE "C" NOT NULL,
            device_id TEXT COLLATE "C" NOT NULL,
            at TIMESTAMPTZ NOT NULL,
            address TEXT COLLATE "C" NOT NULL,
            protocol TEXT COLLATE "C" NOT NULL,
            method TEXT COLLATE "C" NOT NULL,
            tls_version TEXT COLLATE "C",
            cipher_suite TEXT COLLATE "C",
            client_library TEXT COLLATE "C",
            certificate_not_after TIMESTAMPTZ,
            PRIMARY KEY (tenant_id, device_id),
            FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, device_id) ON DELETE CASCADE
        )
        """,
        """
        CREATE TABLE defender_audits (
            id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
            finished_at TIMESTAMPTZ NOT NULL,
            report TEXT COLLATE "C" NOT NULL
        )
        """,
        """
        CREATE INDEX defender_audits_by_time ON defender_audits (finished_at)
        """,
        """
        CREATE INDEX audit_records_by_action ON audit_records (action, at)
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE defender_rules (
                    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
                    document TEXT NOT NULL
                ) STRICT, WITHOUT ROWID;
                CREATE TABLE device_sightings (
                    tenant_id TEXT NOT NULL,
                    device_id TEXT NOT NULL,
                    at TEXT NOT NULL,
                    address TEXT NOT NULL,
                    protocol TEXT NOT NULL,
                    method TEXT NOT NULL,
                    tls_version TEXT,
                    cipher_suite TEXT,
                    client_library TEXT,
                    certificate_not_after TEXT,
                    PRIMARY KEY (tenant_id, device_id),
                    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, device_id) ON DELETE CASCADE
                ) STRICT, WITHOUT ROWID;
                CREATE TABLE defender_audits (
                    id TEXT NOT NULL PRIMARY KEY,
                    finished_at TEXT NOT NULL,
                    report TEXT NOT NULL
                ) STRICT, WITHOUT ROWID;
                CREATE INDEX defender_audits_by_time ON defender_audits (finished_at);
                CREATE INDEX audit_records_by_action ON audit_records (action, at);
                """)
    }
}
