import GRDB

/// Failed sign-ins per username and per source address (`SignInThrottle`), where every node sharing the store
/// counts into the same row and a restart forgets no lockout (issue 18). Times in milliseconds since 1970; rows
/// quiet for the longest lockout are removed (by the index).
enum Migration0031CreateSignInFailures: StoreMigration {
    static let identifier = "0031-create-sign-in-failures"

    static let postgres = [
        """
        CREATE TABLE sign_in_failures (
            key TEXT COLLATE "C" PRIMARY KEY,
            failures BIGINT NOT NULL,
            last_failure BIGINT NOT NULL,
            locked_until BIGINT
        )
        """,
        """
        CREATE INDEX sign_in_failures_by_last_failure ON sign_in_failures (last_failure)
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE sign_in_failures (
                    key TEXT NOT NULL PRIMARY KEY,
                    failures INTEGER NOT NULL,
                    last_failure INTEGER NOT NULL,
                    locked_until INTEGER
                ) STRICT, WITHOUT ROWID;
                CREATE INDEX sign_in_failures_by_last_failure ON sign_in_failures (last_failure);
                """)
    }
}
