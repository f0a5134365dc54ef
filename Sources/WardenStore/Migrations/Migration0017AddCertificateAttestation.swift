import GRDB

/// X.509 attestation for enrollments (issue 15): a group names a tenant CA, an individual enrollment the
/// certificate's thumbprints. Symmetric-key enrollments keep their sealed keys; X.509 ones store none.
enum Migration0017AddCertificateAttestation: StoreMigration {
    static let identifier = "0017-add-certificate-attestation"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        ALTER TABLE enrollments ADD COLUMN attestation TEXT COLLATE "C" NOT NULL DEFAULT 'symmetric-key'
        """,
        """
        ALTER TABLE enrollments ADD COLUMN certificate_authority TEXT COLLATE "C"
        """,
        """
        ALTER TABLE enrollments ADD COLUMN primary_thumbprint TEXT COLLATE "C"
        """,
        """
        ALTER TABLE enrollments ADD COLUMN secondary_thumbprint TEXT COLLATE "C"
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE enrollments ADD COLUMN attestation TEXT NOT NULL DEFAULT 'symmetric-key';
                ALTER TABLE enrollments ADD COLUMN certificate_authority TEXT;
                ALTER TABLE enrollments ADD COLUMN primary_thumbprint TEXT;
                ALTER TABLE enrollments ADD COLUMN secondary_thumbprint TEXT;
                """)
    }
}
