import GRDB

/// The audit log (issue 5): append-only records, each carrying the keyed hash that chains it to the one before.
enum Migration0011CreateAudit {
    static let identifier = "0011-create-audit"

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
