public import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: IssuedCertificateStore {
    public func createIssuingAuthority(_ authority: CertificateAuthority, key: IssuingKey) async throws
        -> CertificateAuthority
    {
        let (storage, sealed, label) = try PKIRows.keyColumns(key, authority.tenantID, authority.name, sealer: sealer)
        try await write { db in
            try Self.insert(authority, db)
            try db.execute(
                sql: """
                    INSERT INTO certificate_authority_keys (tenant_id, name, storage, sealed_key, token_label)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [authority.tenantID.rawValue, authority.name.rawValue, storage, sealed, label])
        }
        return authority
    }

    public func issuingKey(_ tenantID: TenantID, _ name: CAName) async throws -> IssuingKey {
        let sealer = self.sealer
        return try await read { db in
            let row = try Row.fetchOne(
                db,
                sql: "SELECT token_label, sealed_key FROM certificate_authority_keys WHERE tenant_id = ? AND name = ?",
                arguments: [tenantID.rawValue, name.rawValue])
            return try PKIRows.issuingKey(row, tenantID, name, sealer: sealer)
        }
    }

    public func addIssuedCertificate(_ certificate: IssuedCertificate) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO issued_certificates (tenant_id, serial, authority, issuer_thumbprint, device_id,
                        thumbprint, certificate_pem, not_valid_before, not_valid_after, issued_at, issued_by,
                        renewed_from, revoked_at, revocation_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    certificate.tenantID.rawValue, certificate.serial.serial, certificate.authority.rawValue,
                    certificate.serial.issuer.rawValue, certificate.deviceID.rawValue,
                    certificate.thumbprint.rawValue, certificate.certificatePEM, certificate.notValidBefore,
                    certificate.notValidAfter, certificate.issuedAt, certificate.issuedBy, certificate.renewedFrom,
                    certificate.revocation?.at, certificate.revocation?.reason.rawValue,
                ])
        }
    }

    public func issuedCertificate(_ tenantID: TenantID, serial: String) async throws -> IssuedCertificate? {
        try await read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM issued_certificates WHERE tenant_id = ? AND serial = ?",
                arguments: [tenantID.rawValue, serial]
            ).map(PKIRows.issued)
        }
    }

    public func issuedCertificates(
        _ tenantID: TenantID, filter: IssuedCertificateFilter, now: Date, after cursor: String?, limit: Int
    ) async throws -> Page<IssuedCertificate> {
        var conditions = ["tenant_id = ?", "serial > ?"]
        var arguments: StatementArguments = [tenantID.rawValue, cursor ?? ""]
        if let deviceID = filter.deviceID {
            conditions.append("device_id = ?")
            arguments += [deviceID.rawValue]
        }
        if let authority = filter.authority {
            conditions.append("authority = ?")
            arguments += [authority.rawValue]
        }
        switch filter.status {
        case .revoked: conditions.append("revoked_at IS NOT NULL")
        case .expired:
            conditions.append("revoked_at IS NULL AND not_valid_after <= ?")
            arguments += [now]
        case .valid:
            conditions.append("revoked_at IS NULL AND not_valid_after > ?")
            arguments += [now]
        case nil: break
        }
        if let before = filter.expiringBefore {
            conditions.append("revoked_at IS NULL AND not_valid_after > ? AND not_valid_after <= ?")
            arguments += [now, before]
        }
        arguments += [limit + 1]
        let bound = arguments
        let sql =
            "SELECT * FROM issued_certificates WHERE \(conditions.joined(separator: " AND ")) ORDER BY serial LIMIT ?"
        let items = try await read { db in try Row.fetchAll(db, sql: sql, arguments: bound).map(PKIRows.issued) }
        return Page.cut(items, limit: limit) { $0.serial.serial }
    }

    public func revokeCertificate(
        _ tenantID: TenantID, serial: String, _ revocation: IssuedCertificate.Revocation
    ) async throws -> IssuedCertificate {
        try await write { db in
            guard
                var certificate = try Row.fetchOne(
                    db, sql: "SELECT * FROM issued_certificates WHERE tenant_id = ? AND serial = ?",
                    arguments: [tenantID.rawValue, serial]
                ).map(PKIRows.issued)
            else {
                throw WardenError(.certificateNotFound, "There is no certificate '\(serial)' in tenant '\(tenantID)'.")
            }
            if let earlier = certificate.revocation {
                throw WardenError(
                    .certificateAlreadyRevoked,
                    "Certificate '\(serial)' was revoked already (\(earlier.reason.rawValue)).")
            }
            certificate.revocation = revocation
            try db.execute(
                sql: """
                    UPDATE issued_certificates SET revoked_at = ?, revocation_reason = ?
                    WHERE tenant_id = ? AND serial = ?
                    """,
                arguments: [revocation.at, revocation.reason.rawValue, tenantID.rawValue, serial])
            return certificate
        }
    }

    public func revokedCertificates(notExpiredAt now: Date) async throws -> [IssuedCertificate] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM issued_certificates WHERE revoked_at IS NOT NULL AND not_valid_after > ?
                    ORDER BY tenant_id, authority, serial
                    """,
                arguments: [now]
            ).map(PKIRows.issued)
        }
    }

    public func countValidCertificates(now: Date, expiringBefore soon: Date) async throws -> (
        valid: Int, expiring: Int
    ) {
        try await read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT count(*) AS valid, coalesce(sum(not_valid_after <= ?), 0) AS expiring
                    FROM issued_certificates WHERE revoked_at IS NULL AND not_valid_after > ?
                    """,
                arguments: [soon, now])
            return (row?["valid"] ?? 0, row?["expiring"] ?? 0)
        }
    }
}
