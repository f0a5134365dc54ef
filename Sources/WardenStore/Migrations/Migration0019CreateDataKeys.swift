import GRDB

/// Keys Warden makes for itself and keeps sealed under the master key (issue 15, key rotation): the audit
/// chain's key among them, so that a new master key re-seals it instead of changing it.
enum Migration0019CreateDataKeys: StoreMigration {
    static let identifier = "0019-create-data-keys"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE data_keys (
            name TEXT COLLATE "C" NOT NULL PRIMARY KEY,
            sealed_key BYTEA NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        )
        """
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE data_keys (
                    name TEXT NOT NULL PRIMARY KEY,
                    sealed_key BLOB NOT NULL,
                    created_at TEXT NOT NULL
                ) STRICT, WITHOUT ROWID;
                """)
    }
}
