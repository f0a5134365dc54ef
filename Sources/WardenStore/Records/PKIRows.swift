import Foundation
import WardenCore

/// Rows of the PKI tables (certificate authorities, their keys and CRLs, issued certificates) as domain values,
/// for both engines, and how an issuing CA's key is sealed.
enum PKIRows {
    /// The upsert condition under which a CRL replaces the stored one: not older by CRL number (numbers compare
    /// by length, then by their characters), or, without both numbers, by `this_update`.
    static let revocationListIsNotOlder = """
        NOT (CASE WHEN excluded.number IS NOT NULL AND certificate_revocation_lists.number IS NOT NULL
        THEN length(excluded.number) < length(certificate_revocation_lists.number)
            OR (length(excluded.number) = length(certificate_revocation_lists.number)
                AND excluded.number < certificate_revocation_lists.number)
        ELSE excluded.this_update < certificate_revocation_lists.this_update END)
        """

    static func authority(_ row: some StoreRow) throws -> CertificateAuthority {
        CertificateAuthority(
            tenantID: try TenantID(row.value("tenant_id")), name: try CAName(row.value("name")),
            certificatePEM: try row.value("certificate_pem"), thumbprint: try Thumbprint(row.value("thumbprint")),
            subject: try row.value("subject"), notValidAfter: try row.value("not_valid_after"),
            isVerified: try row.value("verified"), verificationCode: try row.value("verification_code"),
            isIssuing: try row.value("issuing"),
            revocationCheck: RevocationCheck(
                mode: RevocationCheck.Mode(rawValue: try row.value("revocation_mode")) ?? .off,
                crlURL: try row.value("crl_url"), refreshSeconds: try row.value("crl_refresh"),
                ocsp: try row.value("revocation_ocsp")),
            createdAt: try row.value("created_at"))
    }

    static func revocationList(_ row: some StoreRow) throws -> StoredRevocationList {
        StoredRevocationList(
            tenantID: try TenantID(row.value("tenant_id")), authority: try CAName(row.value("name")),
            der: Array(try row.value("der") as Data), source: try row.value("source"),
            updatedAt: try row.value("updated_at"))
    }

    static func issued(_ row: some StoreRow) throws -> IssuedCertificate {
        let revokedAt: Date? = try row.value("revoked_at")
        let reason: String? = try row.value("revocation_reason")
        var revocation: IssuedCertificate.Revocation?
        if let revokedAt, let reason {
            guard let reason = RevocationReason(rawValue: reason) else {
                throw WardenError(.storeUnusable, "An issued certificate has an unknown revocation reason '\(reason)'.")
            }
            revocation = IssuedCertificate.Revocation(at: revokedAt, reason: reason)
        }
        return IssuedCertificate(
            tenantID: try TenantID(row.value("tenant_id")), authority: try CAName(row.value("authority")),
            serial: CertificateSerial(
                issuer: try Thumbprint(row.value("issuer_thumbprint")), serial: try row.value("serial")),
            deviceID: try DeviceID(row.value("device_id")), thumbprint: try Thumbprint(row.value("thumbprint")),
            certificatePEM: try row.value("certificate_pem"), notValidBefore: try row.value("not_valid_before"),
            notValidAfter: try row.value("not_valid_after"), issuedAt: try row.value("issued_at"),
            issuedBy: try row.value("issued_by"), renewedFrom: try row.value("renewed_from"), revocation: revocation)
    }

    /// The AAD binding an issuing CA's sealed key to its tenant and name.
    static func keyContext(_ tenantID: some CustomStringConvertible, _ name: some CustomStringConvertible) -> String {
        "certificate_authority_keys/\(tenantID)/\(name)"
    }

    /// The `certificate_authority_keys` columns holding `key`: `storage`, `sealed_key` (sealed here) and
    /// `token_label`.
    static func keyColumns(
        _ key: IssuingKey, _ tenantID: TenantID, _ name: CAName, sealer: any SecretSealer
    ) throws -> (storage: String, sealed: Data?, label: String?) {
        switch key {
        case .sealed(let secret):
            ("sealed", Data(try sealer.seal(secret, context: keyContext(tenantID, name))), nil)
        case .token(let label): ("pkcs11", nil, label)
        }
    }

    /// The key a `certificate_authority_keys` row (its `token_label` and `sealed_key`) holds; without a row, the CA
    /// was registered rather than created (`ca.not_issuing`).
    static func issuingKey(
        _ row: (some StoreRow)?, _ tenantID: TenantID, _ name: CAName, sealer: any SecretSealer
    ) throws -> IssuingKey {
        guard let row else {
            throw WardenError(.caNotIssuing, "Warden holds no key for CA '\(name)': it was registered, not created.")
        }
        if let label = try row.value("token_label") as String? { return .token(label: label) }
        guard let sealed = try row.value("sealed_key") as Data? else {
            throw WardenError(.storeUnusable, "CA '\(name)' has neither a sealed key nor a token label.")
        }
        return .sealed(try sealer.open(Array(sealed), context: keyContext(tenantID, name)))
    }
}
