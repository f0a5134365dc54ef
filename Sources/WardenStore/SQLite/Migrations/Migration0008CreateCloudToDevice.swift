import GRDB

/// Per-device cloud-to-device queues and the feedback records their senders asked for (issue 4). Locks are not
/// stored: after a restart every message is Enqueued again, as after a lock expiry.
enum Migration0008CreateCloudToDevice {
    static let identifier = "0008-create-cloud-to-device"

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
