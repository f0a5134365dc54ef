import GRDB

/// The audit log (issue 5): append-only records, each carrying the keyed hash that chains it to the one before.
enum Migration0011CreateAudit: StoreMigration {
    static let identifier = "0011-create-audit"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE audit_records (
            sequence BIGINT PRIMARY KEY,
            at BIGINT NOT NULL,
            tenant_id TEXT COLLATE "C",
            actor_kind TEXT COLLATE "C" NOT NULL,
            actor TEXT COLLATE "C" NOT NULL,
            source_ip TEXT COLLATE "C" NOT NULL,
            action TEXT COLLATE "C" NOT NULL,
            target TEXT COLLATE "C" NOT NULL,
            outcome TEXT COLLATE "C" NOT NULL,
            reason TEXT COLLATE "C",
            reference_id TEXT COLLATE "C",
            details TEXT COLLATE "C" NOT NULL,
            chain_hash BYTEA NOT NULL
        )
        """,
        """
        CREATE INDEX audit_records_by_tenant ON audit_records (tenant_id, sequence)
        """,
        """
        CREATE INDEX audit_records_by_time ON audit_records (at)
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE audit_records (
                    sequence INTEGER PRIMARY KEY,
                    at INTEGER NOT NULL,
                    tenant_id TEXT,
                    actor_kind TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    source_ip TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    outcome TEXT NOT NULL,
                    reason TEXT,
                    reference_id TEXT,
                    details TEXT NOT NULL,
                    chain_hash BLOB NOT NULL
                ) STRICT;
                CREATE INDEX audit_records_by_tenant ON audit_records (tenant_id, sequence);
                CREATE INDEX audit_records_by_time ON audit_records (at);
                """)
    }
}
