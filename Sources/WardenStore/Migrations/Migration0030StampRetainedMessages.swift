import GRDB

/// Retained messages carry their `RetainStamp` (time, node), and a clear is kept as a row with an empty payload
/// for a while: the store keeps the latest of a topic's messages from every node, whatever order their writes
/// commit in (issue 18). Rows from before carry the oldest stamp (time 0, the all-zero node, as the store reads
/// it back, so that such a row's delete finds it). The index finds a tenant's clears past keeping.
enum Migration0030StampRetainedMessages: StoreMigration {
    static let identifier = "0030-stamp-retained-messages"

    static let postgres = [
        """
        ALTER TABLE mqtt_retained ADD COLUMN stamp_time BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN stamp_node BYTEA NOT NULL DEFAULT '\\x00000000000000000000000000000000'::bytea
        """,
        """
        CREATE INDEX mqtt_retained_clears ON mqtt_retained (tenant_id, stamp_time) WHERE length(payload) = 0
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE mqtt_retained ADD COLUMN stamp_time INTEGER NOT NULL DEFAULT 0")
        try db.execute(
            sql: """
                ALTER TABLE mqtt_retained ADD COLUMN stamp_node BLOB NOT NULL
                DEFAULT x'00000000000000000000000000000000'
                """)
        try db.execute(
            sql: "CREATE INDEX mqtt_retained_clears ON mqtt_retained (tenant_id, stamp_time) WHERE length(payload) = 0")
    }
}
