public import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: IssuedCertificateStore {
    public func createIssuingAuthority(_ authority: CertificateAuthority, key: IssuingKey) async throws
        -> CertificateAuthority
    {
        let (storage, sealed, label): (String, Data?, String?) =
            switch key {
            case .sealed(let secret):
                (
                    "sealed",
                    Data(try sealer.seal(secret, context: Self.keyContext(authority.tenantID, authority.name))), nil
                )
            case .token(let label): ("pkcs11", nil, label)
            }
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
        let stored = try await read { db -> (label: String?, sealed: Data?)? in
            try Row.fetchOne(
                db,
                sql: "SELECT token_label, sealed_key FROM certificate_authority_keys WHERE tenant_id = ? AND name = ?",
                arguments: [tenantID.rawValue, name.rawValue]
            ).map {
                (
                    try $0.decode(String?.self, forColumn: "token_label"),
                    try $0.decode(Data?.self, forColumn: "sealed_key")
                )
            }
        }
        guard let stored else {
            throw WardenError(.caNotIssuing, "Warden holds no key for CA '\(name)': it was registered, not created.")
        }
        if let label = stored.label { return .token(label: label) }
        guard let sealed = stored.sealed else {
            throw WardenError(.storeUnusable, "CA '\(name)' has neither a sealed key nor a token label.")
        }
        return .sealed(try sealer.open(Array(sealed), context: Self.keyContext(tenantID, name)))
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
            ).map(Self.issued)
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
        let items = try await read { db in try Row.fetchAll(db, sql: sql, arguments: bound).map(Self.issued) }
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
                ).map(Self.issued)
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
            ).map(Self.issued)
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

    static func keyContext(_ tenantID: some CustomStringConvertible, _ name: some CustomStringConvertible) -> String {
        "certificate_authority_keys/\(tenantID)/\(name)"
    }

    private static func issued(_ row: Row) throws -> IssuedCertificate {
        let revokedAt: Date? = try row.decode(forColumn: "revoked_at")
        let reason: String? = try row.decode(forColumn: "revocation_reason")
        var revocation: IssuedCertificate.Revocation?
        if let revokedAt, let reason {
            guard let reason = RevocationReason(rawValue: reason) else {
                throw WardenError(.storeUnusable, "An issued certificate has an unknown revocation reason '\(reason)'.")
            }
            revocation = IssuedCertificate.Revocation(at: revokedAt, reason: reason)
        }
        return IssuedCertificate(
            tenantID: try TenantID(row.decode(forColumn: "tenant_id")),
            authority: try CAName(row.decode(forColumn: "authority")),
            serial: CertificateSerial(
                issuer: try Thumbprint(row.decode(forColumn: "issuer_thumbprint")),
                serial: try row.decode(forColumn: "serial")),
            deviceID: try DeviceID(row.decode(forColumn: "device_id")),
            thumbprint: try Thumbprint(row.decode(forColumn: "thumbprint")),
            certificatePEM: try row.decode(forColumn: "certificate_pem"),
            notValidBefore: try row.decode(forColumn: "not_valid_before"),
            notValidAfter: try row.decode(forColumn: "not_valid_after"),
            issuedAt: try row.decode(forColumn: "issued_at"),
            issuedBy: try row.decode(forColumn: "issued_by"), renewedFrom: try row.decode(forColumn: "renewed_from"),
            revocation: revocation)
    }
}
