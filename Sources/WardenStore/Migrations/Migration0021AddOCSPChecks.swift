import GRDB

/// OCSP checks of external CAs (issue 15): whether a CA's certificates are also asked of their OCSP responder.
enum Migration0021AddOCSPChecks: StoreMigration {
    static let identifier = "0021-add-ocsp-checks"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        ALTER TABLE certificate_authorities ADD COLUMN revocation_ocsp BOOLEAN NOT NULL DEFAULT false
        """
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE certificate_authorities ADD COLUMN revocation_ocsp INTEGER NOT NULL DEFAULT 0")
    }
}
