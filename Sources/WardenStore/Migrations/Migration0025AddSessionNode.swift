import GRDB

/// The node that holds each persistent MQTT session (issue 18): on several nodes, a node takes up at start-up
/// only the sessions it held, and a session moves when its client connects to another node. Empty for a node
/// alone.
enum Migration0025AddSessionNode: StoreMigration {
    static let identifier = "0025-add-session-node"

    static let postgres = [
        """
        ALTER TABLE mqtt_sessions ADD COLUMN node TEXT COLLATE "C"
        """
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE mqtt_sessions ADD COLUMN node TEXT")
    }
}
