import GRDB

/// The revoked refresh tokens by revocation time, for the sessions a node reads as signed out whenever it reads
/// people again (`AccessStore.revokedRefreshFamilies(since:)`, on every node after each change of people): the
/// table holds every unexpired token, of which few are revoked.
enum Migration0028IndexRefreshTokenRevocations: StoreMigration {
    static let identifier = "0028-index-refresh-token-revocations"

    static let postgres = [
        """
        CREATE INDEX refresh_tokens_by_revocation ON refresh_tokens (revoked_at) WHERE revoked_at IS NOT NULL
        """
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: "CREATE INDEX refresh_tokens_by_revocation ON refresh_tokens (revoked_at) WHERE revoked_at IS NOT NULL"
        )
    }
}
