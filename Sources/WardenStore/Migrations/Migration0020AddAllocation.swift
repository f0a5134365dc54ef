import GRDB

/// Allocation across tenants and reprovisioning (issue 15, DPS): an enrollment's tenants (JSON, NULL for its own),
/// its allocation policy, the custom allocation webhook (sealed: its URL may carry a key) and its reprovision
/// policy; and the tenant each registration was assigned to (NULL: the enrollment's own).
enum Migration0020AddAllocation: StoreMigration {
    static let identifier = "0020-add-allocation"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        ALTER TABLE enrollments ADD COLUMN tenants TEXT COLLATE "C"
        """,
        """
        ALTER TABLE enrollments ADD COLUMN allocation TEXT COLLATE "C" NOT NULL DEFAULT 'static'
        """,
        """
        ALTER TABLE enrollments ADD COLUMN sealed_webhook BYTEA
        """,
        """
        ALTER TABLE enrollments ADD COLUMN reprovisioning TEXT COLLATE "C" NOT NULL DEFAULT 'migrate'
        """,
        """
        ALTER TABLE registrations ADD COLUMN assigned_tenant TEXT COLLATE "C"
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE enrollments ADD COLUMN tenants TEXT;
                ALTER TABLE enrollments ADD COLUMN allocation TEXT NOT NULL DEFAULT 'static';
                ALTER TABLE enrollments ADD COLUMN sealed_webhook BLOB;
                ALTER TABLE enrollments ADD COLUMN reprovisioning TEXT NOT NULL DEFAULT 'migrate';
                ALTER TABLE registrations ADD COLUMN assigned_tenant TEXT;
                """)
    }
}
