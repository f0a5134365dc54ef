import GRDB

/// The Defender (issue 16): bans in force (until they expire or are removed), alerts with their lifecycle, and
/// quarantined devices (their risk level, gone with the device).
enum Migration0022CreateDefender: StoreMigration {
    static let identifier = "0022-create-defender"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE bans (
            id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
            kind TEXT COLLATE "C" NOT NULL CHECK (kind IN ('address', 'client-id', 'device')),
            value TEXT COLLATE "C" NOT NULL,
            reason TEXT COLLATE "C" NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            expires_at TIMESTAMPTZ,
            created_by TEXT COLLATE "C" NOT NULL,
            alert_id TEXT COLLATE "C"
        )
        """,
        """
        CREATE TABLE alerts (
            id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
            tenant_id TEXT COLLATE "C",
            rule TEXT COLLATE "C" NOT NULL,
            severity TEXT COLLATE "C" NOT NULL,
            status TEXT COLLATE "C" NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
            subject TEXT COLLATE "C" NOT NULL,
            summary TEXT COLLATE "C" NOT NULL,
            count BIGINT NOT NULL,
            first_seen TIMESTAMPTZ NOT NULL,
            last_seen TIMESTAMPTZ NOT NULL,
            changed_by TEXT COLLATE "C",
            changed_at TIMESTAMPTZ
        )
        """,
        """
        CREATE INDEX alerts_by_status ON alerts (status, last_seen)
        """,
        """
        CREATE INDEX alerts_by_subject ON alerts (rule, subject, status)
        """,
        """
        CREATE TABLE quarantines (
            tenant_id TEXT COLLATE "C" NOT NULL,
            device_id TEXT COLLATE "C" NOT NULL,
            level TEXT COLLATE "C" NOT NULL CHECK (level IN ('elevated', 'high', 'critical')),
            reason TEXT COLLATE "C" NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            created_by TEXT COLLATE "C" NOT NULL,
            alert_id TEXT COLLATE "C",
            PRIMARY KEY (tenant_id, device_id),
            FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, device_id) ON DELETE CASCADE
        )
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE bans (
                    id TEXT NOT NULL PRIMARY KEY,
                    kind TEXT NOT NULL CHECK (kind IN ('address', 'client-id', 'device')),
                    value TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    expires_at TEXT,
                    created_by TEXT NOT NULL,
                    alert_id TEXT
                ) STRICT, WITHOUT ROWID;
                CREATE TABLE alerts (
                    id TEXT NOT NULL PRIMARY KEY,
                    tenant_id TEXT,
                    rule TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
                    subject TEXT NOT NULL,
                    summary TEXT NOT NULL,
                    count INTEGER NOT NULL,
                    first_seen TEXT NOT NULL,
                    last_seen TEXT NOT NULL,
                    changed_by TEXT,
                    changed_at TEXT
                ) STRICT, WITHOUT ROWID;
                CREATE INDEX alerts_by_status ON alerts (status, last_seen);
                CREATE INDEX alerts_by_subject ON alerts (rule, subject, status);
                CREATE TABLE quarantines (
                    tenant_id TEXT NOT NULL,
                    device_id TEXT NOT NULL,
                    level TEXT NOT NULL CHECK (level IN ('elevated', 'high', 'critical')),
                    reason TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    created_by TEXT NOT NULL,
                    alert_id TEXT,
                    PRIMARY KEY (tenant_id, device_id),
                    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, device_id) ON DELETE CASCADE
                ) STRICT, WITHOUT ROWID;
                """)
    }
}
