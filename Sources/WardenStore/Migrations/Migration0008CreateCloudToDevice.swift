import GRDB

/// Per-device cloud-to-device queues and the feedback records their senders asked for (issue 4). Locks are not
/// stored: after a restart every message is Enqueued again, as after a lock expiry.
enum Migration0008CreateCloudToDevice: StoreMigration {
    static let identifier = "0008-create-cloud-to-device"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE c2d_messages (
            sequence BIGINT PRIMARY KEY,
            tenant_id TEXT COLLATE "C" NOT NULL,
            device_id TEXT COLLATE "C" NOT NULL,
            message_id TEXT COLLATE "C" NOT NULL,
            correlation_id TEXT COLLATE "C",
            properties TEXT COLLATE "C" NOT NULL,
            body BYTEA NOT NULL,
            ack TEXT COLLATE "C" NOT NULL,
            enqueued_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            delivery_count BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE c2d_feedback (
            sequence BIGINT PRIMARY KEY,
            tenant_id TEXT COLLATE "C" NOT NULL,
            device_id TEXT COLLATE "C" NOT NULL,
            original_message_id TEXT COLLATE "C" NOT NULL,
            status TEXT COLLATE "C" NOT NULL,
            description TEXT COLLATE "C" NOT NULL,
            enqueued_at BIGINT NOT NULL,
            recorded_at BIGINT NOT NULL
        )
        """,
        """
        CREATE INDEX c2d_feedback_by_tenant ON c2d_feedback (tenant_id, sequence)
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE c2d_messages (
                    sequence INTEGER PRIMARY KEY,
                    tenant_id TEXT NOT NULL,
                    device_id TEXT NOT NULL,
                    message_id TEXT NOT NULL,
                    correlation_id TEXT,
                    properties TEXT NOT NULL,
                    body BLOB NOT NULL,
                    ack TEXT NOT NULL,
                    enqueued_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL,
                    delivery_count INTEGER NOT NULL
                ) STRICT;
                CREATE TABLE c2d_feedback (
                    sequence INTEGER PRIMARY KEY,
                    tenant_id TEXT NOT NULL,
                    device_id TEXT NOT NULL,
                    original_message_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    description TEXT NOT NULL,
                    enqueued_at INTEGER NOT NULL,
                    recorded_at INTEGER NOT NULL
                ) STRICT;
                CREATE INDEX c2d_feedback_by_tenant ON c2d_feedback (tenant_id, sequence);
                """)
    }
}
