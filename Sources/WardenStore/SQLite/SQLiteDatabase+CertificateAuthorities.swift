import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: CertificateAuthorityStore {
    public func createCertificateAuthority(_ authority: CertificateAuthority) async throws -> CertificateAuthority {
        try await write { db in try Self.insert(authority, db) }
        return authority
    }

    /// Inserts a CA unless its tenant is missing or its name or certificate is taken.
    static func insert(_ authority: CertificateAuthority, _ db: Database) throws {
        guard try Self.tenantExists(db, authority.tenantID) else {
            throw WardenError(.tenantNotFound, "There is no tenant '\(authority.tenantID)'.")
        }
        let taken = try Bool.fetchOne(
            db,
            sql:
                "SELECT EXISTS (SELECT 1 FROM certificate_authorities WHERE tenant_id = ? AND (name = ? OR thumbprint = ?))",
            arguments: [authority.tenantID.rawValue, authority.name.rawValue, authority.thumbprint.rawValue])
        guard taken != true else {
            throw WardenError(
                .caAlreadyExists, "A CA named '\(authority.name)', or with this certificate, is registered already.")
        }
        try Self.save(authority, db)
    }

    public func certificateAuthorities(_ tenantID: TenantID) async throws -> [CertificateAuthority] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM certificate_authorities WHERE tenant_id = ? ORDER BY name",
                arguments: [tenantID.rawValue]
            ).map(PKIRows.authority)
        }
    }

    public func allCertificateAuthorities() async throws -> [CertificateAuthority] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM certificate_authorities ORDER BY tenant_id, name").map(
                PKIRows.authority)
        }
    }

    public func updateCertificateAuthority(
        _ tenantID: TenantID, _ name: CAName, _ change: @escaping @Sendable (inout CertificateAuthority) throws -> Void
    ) async throws -> CertificateAuthority {
        try await write { db in
            guard
                var authority = try Row.fetchOne(
                    db, sql: "SELECT * FROM certificate_authorities WHERE tenant_id = ? AND name = ?",
                    arguments: [tenantID.rawValue, name.rawValue]
                ).map(PKIRows.authority)
            else { throw WardenError(.caNotFound, "There is no CA '\(name)' in tenant '\(tenantID)'.") }
            try change(&authority)
            try Self.save(authority, db)
            return authority
        }
    }

    public func deleteCertificateAuthority(_ tenantID: TenantID, _ name: CAName) async throws {
        try await write { db in
            try db.execute(
                sql: "DELETE FROM certificate_authorities WHERE tenant_id = ? AND name = ?",
                arguments: [tenantID.rawValue, name.rawValue])
            guard db.changesCount > 0 else {
                throw WardenError(.caNotFound, "There is no CA '\(name)' in tenant '\(tenantID)'.")
            }
        }
    }

    /// An upsert, not a replace: replacing would delete the row, and with it (by cascade) an issuing CA's key
    /// and its certificates. Only the verification state ever changes.
    private static func save(_ authority: CertificateAuthority, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO certificate_authorities (tenant_id, name, certificate_pem, thumbprint, subject,
                    not_valid_after, verified, verification_code, issuing, revocation_mode, crl_url, crl_refresh,
                    revocation_ocsp, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (tenant_id, name) DO UPDATE SET verified = excluded.verified,
                    verification_code = excluded.verification_code, revocation_mode = excluded.revocation_mode,
                    crl_url = excluded.crl_url, crl_refresh = excluded.crl_refresh,
                    revocation_ocsp = excluded.revocation_ocsp
                """,
            arguments: [
                authority.tenantID.rawValue, authority.name.rawValue, authority.certificatePEM,
                authority.thumbprint.rawValue, authority.subject, authority.notValidAfter, authority.isVerified,
                authority.verificationCode, authority.isIssuing, authority.revocationCheck.mode.rawValue,
                authority.revocationCheck.crlURL, authority.revocationCheck.refreshSeconds,
                authority.revocationCheck.ocsp, authority.createdAt,
            ])
    }

    @discardableResult
    public func saveRevocationList(_ list: RevocationListState, der: [UInt8]) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO certificate_revocation_lists (tenant_id, name, der, this_update, next_update, number,
                        source, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (tenant_id, name) DO UPDATE SET der = excluded.der,
                    this_update = excluded.this_update, next_update = excluded.next_update, number = excluded.number,
                    source = excluded.source, updated_at = excluded.updated_at WHERE
                    """ + " " + PKIRows.revocationListIsNotOlder,
                arguments: [
                    list.tenantID.rawValue, list.authority.rawValue, Data(der), list.thisUpdate, list.nextUpdate,
                    list.number, list.source, list.updatedAt,
                ])
            return db.changesCount > 0
        }
    }

    public func revocationLists() async throws -> [StoredRevocationList] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM certificate_revocation_lists").map(PKIRows.revocationList)
        }
    }
}
