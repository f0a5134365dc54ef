import GRDB

/// CA keys inside a PKCS #11 token (issue 15): their label, where `storage` is `pkcs11` and no key is sealed.
enum Migration0018AddTokenKeys: StoreMigration {
    static let identifier = "0018-add-token-keys"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        ALTER TABLE certificate_authority_keys ADD COLUMN token_label TEXT COLLATE "C"
        """
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE certificate_authority_keys ADD COLUMN token_label TEXT")
    }
}
