import Foundation
public import WardenCore
import WardenSecurity
import WardenStore

extension RegistryService {
    /// The most CAs a tenant holds (Azure IoT Hub's 25 per hub): every device handshake and HTTPS request is
    /// checked against each, and each may bring an external CRL of up to a million serials to every node.
    public static let maximumCertificateAuthorities = 25

    /// Registers a tenant CA (unverified until proof of possession); `ca.too_many` past the most a tenant holds.
    public func addCertificateAuthority(_ tenantID: TenantID, _ name: CAName, certificatePEM: String) async throws
        -> CertificateAuthority
    {
        let parsed = try CertificateAuthorityCheck.parseCA(certificatePEM, now: clock.now())
        let authority = CertificateAuthority(
            tenantID: tenantID, name: name, certificatePEM: certificatePEM, thumbprint: parsed.thumbprint,
            subject: parsed.subject, notValidAfter: parsed.notValidAfter, createdAt: clock.now())
        return try await commit {
            // Counted inside the serial writes, so that two requests at once cannot both take the last place.
            let held = try await stores.authorities.certificateAuthorities(tenantID).count
            guard held < Self.maximumCertificateAuthorities else {
                throw WardenError(
                    .caTooMany,
                    "Tenant '\(tenantID)' holds \(held) CAs, the most it may (\(Self.maximumCertificateAuthorities)); delete one first."
                )
            }
            let stored = try await stores.authorities.createCertificateAuthority(authority)
            return (stored, [.certificateAuthorityChanged(stored)])
        }
    }

    /// A tenant's CAs.
    public func certificateAuthorities(_ tenantID: TenantID) async throws -> [CertificateAuthority] {
        try await stores.authorities.certificateAuthorities(tenantID)
    }

    /// One CA, or `ca.not_found`.
    public func certificateAuthority(_ tenantID: TenantID, _ name: CAName) async throws -> CertificateAuthority {
        guard let authority = try await certificateAuthorities(tenantID).first(where: { $0.name == name }) else {
            throw WardenError(.caNotFound, "There is no CA '\(name)' in tenant '\(tenantID)'.")
        }
        return authority
    }

    /// Issues a fresh verification code (128 bits, hex) for the proof of possession; replaces any earlier one.
    public func issueVerificationCode(_ tenantID: TenantID, _ name: CAName) async throws -> CertificateAuthority {
        let code = SecretBytes.random(count: 16).bytes.map { String(format: "%02X", $0) }.joined()
        return try await commit {
            let stored = try await stores.authorities.updateCertificateAuthority(tenantID, name) { authority in
                authority.verificationCode = code
            }
            return (stored, [.certificateAuthorityChanged(stored)])
        }
    }

    /// Accepts a proof of possession: a certificate with CN = the outstanding code, signed by the CA. The CA
    /// is verified from then on and devices chaining to it may connect; the code is used up.
    public func verifyCertificateAuthority(_ tenantID: TenantID, _ name: CAName, proofPEM: String) async throws
        -> CertificateAuthority
    {
        try await commit {
            let stored = try await stores.authorities.updateCertificateAuthority(tenantID, name) { authority in
                guard let code = authority.verificationCode else {
                    throw WardenError(.caVerificationCodeMissing, "Issue a verification code for CA '\(name)' first.")
                }
                try CertificateAuthorityCheck.verifyProof(proofPEM, code: code, caPEM: authority.certificatePEM)
                authority.isVerified = true
                authority.verificationCode = nil
            }
            return (stored, [.certificateAuthorityChanged(stored)])
        }
    }

    /// Removes a CA; devices that chained to it can no longer connect.
    public func deleteCertificateAuthority(_ tenantID: TenantID, _ name: CAName) async throws {
        try await commit {
            try await stores.authorities.deleteCertificateAuthority(tenantID, name)
            return ((), [.certificateAuthorityDeleted(tenantID, name)])
        }
    }
}
