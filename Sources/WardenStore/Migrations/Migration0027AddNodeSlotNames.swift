import GRDB

/// Each node slot's lease names its node as sessions do (`cluster.node-name`; the lease's own `node` is the
/// node's identity for one run), so that the sessions of a node that stopped and has not come back can be told
/// apart and expire (issue 18). Empty for leases taken before.
enum Migration0027AddNodeSlotNames: StoreMigration {
    static let identifier = "0027-add-node-slot-names"

    static let postgres = [
        """
        ALTER TABLE node_slots ADD COLUMN name TEXT COLLATE "C"
        """
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE node_slots ADD COLUMN name TEXT")
    }
}
