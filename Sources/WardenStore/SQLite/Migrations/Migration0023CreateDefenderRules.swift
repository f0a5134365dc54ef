import GRDB

/// Each tenant's Defender rules document (issue 16), gone with the tenant; a tenant without one has the
/// platform's rules.
enum Migration0023CreateDefenderRules {
    static let identifier = "0023-create-defender-rules"

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE defender_rules (
                    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
                    document TEXT NOT NULL
                ) STRICT, WITHOUT ROWID;
                """)
    }
}
