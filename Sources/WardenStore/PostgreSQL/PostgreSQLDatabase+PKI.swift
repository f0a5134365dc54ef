public import Foundation
import PostgresNIO
public import WardenCore

extension PostgreSQLDatabase: CertificateAuthorityStore {
    public func createCertificateAuthority(_ authority: CertificateAuthority) async throws -> CertificateAuthority {
        try await write { connection in try await Self.insert(authority, connection) }
        return authority
    }

    /// Inserts a CA unless its tenant is missing or its name or certificate is taken.
    private static func insert(_ authority: CertificateAuthority, _ connection: PostgresConnection) async throws {
        guard try await Self.tenantExists(connection, authority.tenantID) else {
            throw WardenError(.tenantNotFound, "There is no tenant '\(authority.tenantID)'.")
        }
        if try await connection.exists(
            """
            SELECT 1 FROM certificate_authorities WHERE tenant_id = \(authority.tenantID.rawValue)
            AND (name = \(authority.name.rawValue) OR thumbprint = \(authority.thumbprint.rawValue))
            """)
        {
            throw WardenError(
                .caAlreadyExists, "A CA named '\(authority.name)', or with this certificate, is registered already.")
        }
        try await Self.save(authority, connection)
    }

    public func certificateAuthorities(_ tenantID: TenantID) async throws -> [CertificateAuthority] {
        try await read { connection in
            try await connection.rows(
                "SELECT * FROM certificate_authorities WHERE tenant_id = \(tenantID.rawValue) ORDER BY name"
            ).map(PKIRows.authority)
        }
    }

    public func allCertificateAuthorities() async throws -> [CertificateAuthority] {
        try await read { connection in
            try await connection.rows("SELECT * FROM certificate_authorities ORDER BY tenant_id, name")
                .map(PKIRows.authority)
        }
    }

    public func updateCertificateAuthority(
        _ tenantID: TenantID, _ name: CAName, _ change: @escaping @Sendable (inout CertificateAuthority) throws -> Void
    ) async throws -> CertificateAuthority {
        try await write { connection in
            guard
                var authority = try await connection.rows(
                    """
                    SELECT * FROM certificate_authorities
                    WHERE tenant_id = \(tenantID.rawValue) AND name = \(name.rawValue)
                    """
                ).first.map(PKIRows.authority)
            else { throw WardenError(.caNotFound, "There is no CA '\(name)' in tenant '\(tenantID)'.") }
            try change(&authority)
            try await Self.save(authority, connection)
            return authority
        }
    }

    public func deleteCertificateAuthority(_ tenantID: TenantID, _ name: CAName) async throws {
        // The CA's key, CRL and issued certificates go with it (ON DELETE CASCADE).
        try await write { connection in
            guard
                try await connection.run(
                    """
                    DELETE FROM certificate_authorities
                    WHERE tenant_id = \(tenantID.rawValue) AND name = \(name.rawValue)
                    """) > 0
            else { throw WardenError(.caNotFound, "There is no CA '\(name)' in tenant '\(tenantID)'.") }
        }
    }

    /// An upsert, not a replace, as in SQLite: only the verification and revocation-check state ever changes.
    private static func save(_ authority: CertificateAuthority, _ connection: PostgresConnection) async throws {
        let check = authority.revocationCheck
        try await connection.run(
            """
            INSERT INTO certificate_authorities (tenant_id, name, certificate_pem, thumbprint, subject,
                not_valid_after, verified, verification_code, issuing, revocation_mode, crl_url, crl_refresh,
                revocation_ocsp, created_at)
            VALUES (\(authority.tenantID.rawValue), \(authority.name.rawValue), \(authority.certificatePEM),
            \(authority.thumbprint.rawValue), \(authority.subject), \(authority.notValidAfter), \(authority.isVerified),
            \(authority.verificationCode), \(authority.isIssuing), \(check.mode.rawValue), \(check.crlURL),
            \(check.refreshSeconds), \(check.ocsp), \(authority.createdAt))
            ON CONFLICT (tenant_id, name) DO UPDATE SET verified = excluded.verified,
            verification_code = excluded.verification_code, revocation_mode = excluded.revocation_mode,
            crl_url = excluded.crl_url, crl_refresh = excluded.crl_refresh, revocation_ocsp = excluded.revocation_ocsp
            """)
    }

    @discardableResult
    public func saveRevocationList(_ list: RevocationListState, der: [UInt8]) async throws -> Bool {
        try await write { connection in
            var query = try PostgresQuery(
                """
                INSERT INTO certificate_revocation_lists (tenant_id, name, der, this_update, next_update, number,
                    source, updated_at)
                VALUES (\(list.tenantID.rawValue), \(list.authority.rawValue), \(Data(der)), \(list.thisUpdate),
                \(list.nextUpdate), \(list.number), \(list.source), \(list.updatedAt))
                ON CONFLICT (tenant_id, name) DO UPDATE SET der = excluded.der, this_update = excluded.this_update,
                next_update = excluded.next_update, number = excluded.number, source = excluded.source,
                updated_at = excluded.updated_at WHERE
                """)
            query.sql += " " + PKIRows.revocationListIsNotOlder
            return try await connection.run(query) > 0
        }
    }

    public func revocationLists() async throws -> [StoredRevocationList] {
        try await read { connection in
            try await connection.rows("SELECT * FROM certificate_revocation_lists ORDER BY tenant_id, name").map(
                PKIRows.revocationList)
        }
    }
}

extension PostgreSQLDatabase: IssuedCertificateStore {
    public func createIssuingAuthority(_ authority: CertificateAuthority, key: IssuingKey) async throws
        -> CertificateAuthority
    {
        let (storage, sealed, label) = try PKIRows.keyColumns(key, authority.tenantID, authority.name, sealer: sealer)
        try await write { connection in
            try await Self.insert(authority, connection)
            try await connection.run(
                """
                INSERT INTO certificate_authority_keys (tenant_id, name, storage, sealed_key, token_label)
                VALUES (\(authority.tenantID.rawValue), \(authority.name.rawValue), \(storage), \(sealed), \(label))
                """)
        }
        return authority
    }

    public func issuingKey(_ tenantID: TenantID, _ name: CAName) async throws -> IssuingKey {
        let sealer = self.sealer
        return try await read { connection in
            let row = try await connection.rows(
                """
                SELECT token_label, sealed_key FROM certificate_authority_keys
                WHERE tenant_id = \(tenantID.rawValue) AND name = \(name.rawValue)
                """
            ).first
            return try PKIRows.issuingKey(row, tenantID, name, sealer: sealer)
        }
    }

    public func addIssuedCertificate(_ certificate: IssuedCertificate) async throws {
        try await write { connection in
            try await connection.run(
                """
                INSERT INTO issued_certificates (tenant_id, serial, authority, issuer_thumbprint, device_id,
                    thumbprint, certificate_pem, not_valid_before, not_valid_after, issued_at, issued_by,
                    renewed_from, revoked_at, revocation_reason)
                VALUES (\(certificate.tenantID.rawValue), \(certificate.serial.serial),
                \(certificate.authority.rawValue), \(certificate.serial.issuer.rawValue),
                \(certificate.deviceID.rawValue), \(certificate.thumbprint.rawValue), \(certificate.certificatePEM),
                \(certificate.notValidBefore), \(certificate.notValidAfter), \(certificate.issuedAt),
                \(certificate.issuedBy), \(certificate.renewedFrom), \(certificate.revocation?.at),
                \(certificate.revocation?.reason.rawValue))
                """)
        }
    }

    public func issuedCertificate(_ tenantID: TenantID, serial: String) async throws -> IssuedCertificate? {
        try await read { connection in try await Self.issued(connection, tenantID, serial) }
    }

    public func issuedCertificates(
        _ tenantID: TenantID, filter: IssuedCertificateFilter, now: Date, after cursor: String?, limit: Int
    ) async throws -> Page<IssuedCertificate> {
        var bindings = PostgresBindings()
        // Binds `value`, returning its placeholder: the conditions vary, and so do the parameters' numbers.
        func bound(_ value: some PostgresDynamicTypeEncodable) -> String {
            bindings.append(value)
            return "$\(bindings.count)"
        }
        var conditions = ["tenant_id = \(bound(tenantID.rawValue))", "serial > \(bound(cursor ?? ""))"]
        if let deviceID = filter.deviceID { conditions.append("device_id = \(bound(deviceID.rawValue))") }
        if let authority = filter.authority { conditions.append("authority = \(bound(authority.rawValue))") }
        switch filter.status {
        case .revoked: conditions.append("revoked_at IS NOT NULL")
        case .expired: conditions.append("revoked_at IS NULL AND not_valid_after <= \(bound(now))")
        case .valid: conditions.append("revoked_at IS NULL AND not_valid_after > \(bound(now))")
        case nil: break
        }
        if let before = filter.expiringBefore {
            conditions.append(
                "revoked_at IS NULL AND not_valid_after > \(bound(now)) AND not_valid_after <= \(bound(before))")
        }
        let sql = """
            SELECT * FROM issued_certificates WHERE \(conditions.joined(separator: " AND "))
            ORDER BY serial LIMIT \(bound(limit + 1))
            """
        let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
        let items = try await read { connection in try await connection.rows(query).map(PKIRows.issued) }
        return Page.cut(items, limit: limit) { $0.serial.serial }
    }

    public func revokeCertificate(
        _ tenantID: TenantID, serial: String, _ revocation: IssuedCertificate.Revocation
    ) async throws -> IssuedCertificate {
        try await write { connection in
            guard var certificate = try await Self.issued(connection, tenantID, serial) else {
                throw WardenError(.certificateNotFound, "There is no certificate '\(serial)' in tenant '\(tenantID)'.")
            }
            if let earlier = certificate.revocation {
                throw WardenError(
                    .certificateAlreadyRevoked,
                    "Certificate '\(serial)' was revoked already (\(earlier.reason.rawValue)).")
            }
            certificate.revocation = revocation
            try await connection.run(
                """
                UPDATE issued_certificates SET revoked_at = \(revocation.at),
                revocation_reason = \(revocation.reason.rawValue)
                WHERE tenant_id = \(tenantID.rawValue) AND serial = \(serial)
                """)
            return certificate
        }
    }

    public func revokedCertificates(notExpiredAt now: Date) async throws -> [IssuedCertificate] {
        try await read { connection in
            try await connection.rows(
                """
                SELECT * FROM issued_certificates WHERE revoked_at IS NOT NULL AND not_valid_after > \(now)
                ORDER BY tenant_id, authority, serial
                """
            ).map(PKIRows.issued)
        }
    }

    public func countValidCertificates(now: Date, expiringBefore soon: Date) async throws -> (
        valid: Int, expiring: Int
    ) {
        try await read { connection in
            let row = try await connection.rows(
                """
                SELECT count(*) AS valid, count(*) FILTER (WHERE not_valid_after <= \(soon)) AS expiring
                FROM issued_certificates WHERE revoked_at IS NULL AND not_valid_after > \(now)
                """
            ).first
            guard let row else { return (0, 0) }
            return (try row.value("valid"), try row.value("expiring"))
        }
    }

    private static func issued(_ connection: PostgresConnection, _ tenantID: TenantID, _ serial: String)
        async throws -> IssuedCertificate?
    {
        try await connection.rows(
            "SELECT * FROM issued_certificates WHERE tenant_id = \(tenantID.rawValue) AND serial = \(serial)"
        ).first.map(PKIRows.issued)
    }
}
