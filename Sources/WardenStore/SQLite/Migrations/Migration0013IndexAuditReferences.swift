import GRDB

/// Finding an audit record by the reference id a client or log line was told (`warden policy explain
/// REFERENCE`, `warden audit query --reference`) without reading the whole log.
enum Migration0013IndexAuditReferences {
    static let identifier = "0013-index-audit-references"

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql:
                "CREATE INDEX audit_records_by_reference ON audit_records (reference_id) WHERE reference_id IS NOT NULL"
        )
    }
}
