import GRDB

/// The slots the nodes of one store lease while they run (issue 18): a node stamps the numbers it gives out
/// with its slot, so that nodes writing at once never give out the same one (`SequenceNumbers`).
enum Migration0024CreateNodeSlots: StoreMigration {
    static let identifier = "0024-create-node-slots"

    static let postgres = [
        """
        CREATE TABLE node_slots (
            slot INTEGER NOT NULL PRIMARY KEY,
            node TEXT COLLATE "C" NOT NULL,
            renewed_at TIMESTAMPTZ NOT NULL
        )
        """
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE node_slots (
                    slot INTEGER NOT NULL PRIMARY KEY,
                    node TEXT NOT NULL,
                    renewed_at TEXT NOT NULL
                ) STRICT
                """)
    }
}
