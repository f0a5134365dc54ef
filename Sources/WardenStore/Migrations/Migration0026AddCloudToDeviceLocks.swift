import GRDB

/// HTTPS locks of cloud-to-device messages are stored (issue 18): a device that received on one node may
/// complete, reject or abandon on another, and a lock outlives a restart. A lock past its end holds nothing, so
/// one that ran out is not cleared in the store. The partial index serves the look-up by token.
enum Migration0026AddCloudToDeviceLocks: StoreMigration {
    static let identifier = "0026-add-cloud-to-device-locks"

    static let postgres = [
        """
        ALTER TABLE c2d_messages ADD COLUMN lock_token TEXT COLLATE "C"
        """,
        """
        ALTER TABLE c2d_messages ADD COLUMN lock_until BIGINT
        """,
        """
        CREATE INDEX c2d_messages_by_lock ON c2d_messages (lock_token) WHERE lock_token IS NOT NULL
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE c2d_messages ADD COLUMN lock_token TEXT;
                ALTER TABLE c2d_messages ADD COLUMN lock_until INTEGER;
                CREATE INDEX c2d_messages_by_lock ON c2d_messages (lock_token) WHERE lock_token IS NOT NULL;
                """)
    }
}
