import GRDB

/// Finding an audit record by the reference id a client or log line was told (`warden policy explain
/// REFERENCE`, `warden audit query --reference`) without reading the whole log.
enum Migration0013IndexAuditReferences: StoreMigration {
    static let identifier = "0013-index-audit-references"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE INDEX audit_records_by_reference ON audit_records (reference_id) WHERE reference_id IS NOT NULL
        """
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql:
                "CREATE INDEX audit_records_by_reference ON audit_records (reference_id) WHERE reference_id IS NOT NULL"
        )
    }
}
