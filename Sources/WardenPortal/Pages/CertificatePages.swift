import Foundation
import Hummingbird
import WardenAPI
import WardenCore
import WardenPKI
import WardenRegistry

extension Pages {
    struct AuthorityRow {
        let name: String
        let kind: String
        let verified: String
        let revocation: String
        let notValidAfter: String
    }

    struct CertificateRow {
        let serial: String
        let device: String
        let authority: String
        let status: String
        let notValidAfter: String
        let revocable: Bool
    }

    struct CertificatesPage {
        let tenant: String
        let authorities: [AuthorityRow]
        let issuing: [String]
        let certificates: [CertificateRow]
        let reasons: [String]
        let canManage: Bool
        /// May issue, and there is an issuing CA to issue with.
        let canIssue: Bool
        let csrf: String
        /// The certificate just issued, PEM, to copy.
        let issuedPEM: String?
        let issuedSerial: String?
        let more: Bool
    }

    /// At most this many certificates are listed (newest serials are random: the CLI and API page through all).
    static let certificateListLimit = 200

    var certificateRoutes: [PortalRoute] {
        let base = "/t/{tenant}/certificates"
        return [
            PortalRoute(.get, base, "certificates", permission: .registryRead) { request, portal in
                try await certificatesPage(request, portal, issued: nil)
            },
            PortalRoute(.post, base + "/authorities", "createIssuingCA", permission: .credentialsManage) {
                _, portal in
                let tenant = try portal.requireTenant()
                let days = portal.field("days")
                // total: parses text: nil unless a whole number; the service checks the range.
                guard let count = days.isEmpty ? 3_650 : Int(days) else {
                    throw WardenError(.requestInvalidField, "Days is a whole number.")
                }
                let commonName = portal.field("commonName")
                let authority = try await dependencies.certificates.createAuthority(
                    tenant, try CAName(portal.field("name")), commonName: commonName.isEmpty ? nil : commonName,
                    days: count)
                portal.context.auditDetail("after", "\(authority.name) issuing")
                return .redirect("/t/\(tenant.rawValue)/certificates")
            },
            PortalRoute(
                .post, base, "issueCertificateInPortal", permission: .credentialsManage,
                formLimit: DeviceCertificateRequestLimit.formBytes
            ) { request, portal in
                let tenant = try portal.requireTenant()
                let days = portal.field("days")
                // total: parses text: nil unless a whole number; the service checks the range.
                let count = days.isEmpty ? nil : Int(days)
                guard days.isEmpty || count != nil else {
                    throw WardenError(.requestInvalidField, "Days is a whole number.")
                }
                let issued = try await dependencies.certificates.issue(
                    tenant, authority: try CAName(portal.field("ca")), csrPEM: portal.field("csr"),
                    deviceID: try DeviceID(portal.field("device")), days: count,
                    by: "\(portal.principal.kind.rawValue):\(portal.principal.name)")
                portal.context.auditDetail("certificate.serial", issued.serial.serial)
                return try await certificatesPage(request, portal, issued: issued)
            },
            PortalRoute(.post, base + "/{serial}/revoke", "revokeCertificateInPortal", permission: .credentialsManage) {
                _, portal in
                let tenant = try portal.requireTenant()
                guard let reason = RevocationReason(rawValue: portal.field("reason")) else {
                    throw WardenError(.requestInvalidField, "Choose a reason.")
                }
                let revoked = try await dependencies.certificates.revoke(
                    tenant, serial: portal.parameter("serial"), reason: reason)
                portal.context.auditDetail("after", "\(revoked.serial.serial) revoked (\(reason.rawValue))")
                return .redirect("/t/\(tenant.rawValue)/certificates")
            },
        ]
    }

    private func certificatesPage(_ request: Request, _ portal: PortalRequest, issued: IssuedCertificate?)
        async throws -> Response
    {
        let tenant = try portal.requireTenant()
        let now = dependencies.clock.now()
        let authorities = try await dependencies.registry.certificateAuthorities(tenant)
        let page = try await dependencies.certificates.certificates(
            tenant, filter: IssuedCertificateFilter(), after: nil, limit: Self.certificateListLimit)
        let canManage = portal.principal.may(.credentialsManage, in: tenant)
        return self.page(
            "certificates",
            CertificatesPage(
                tenant: tenant.rawValue,
                authorities: authorities.map { authority in
                    AuthorityRow(
                        name: authority.name.rawValue,
                        kind: authority.isIssuing ? "issuing (Warden holds the key)" : "external",
                        verified: authority.isVerified ? "yes" : "no",
                        revocation: authority.isIssuing
                            ? "CRL and OCSP by Warden" : authority.revocationCheck.mode.rawValue,
                        notValidAfter: Self.time(authority.notValidAfter))
                },
                issuing: authorities.filter(\.isIssuing).map(\.name.rawValue),
                certificates: page.items.map { certificate in
                    let status = certificate.status(at: now)
                    return CertificateRow(
                        serial: certificate.serial.serial, device: certificate.deviceID.rawValue,
                        authority: certificate.authority.rawValue, status: status.rawValue,
                        notValidAfter: Self.time(certificate.notValidAfter), revocable: canManage && status == .valid)
                },
                reasons: RevocationReason.allCases.map(\.rawValue), canManage: canManage,
                canIssue: canManage && authorities.contains(where: \.isIssuing), csrf: portal.session.csrf,
                issuedPEM: issued?.certificatePEM, issuedSerial: issued?.serial.serial, more: page.nextCursor != nil),
            title: "Certificates", request, portal)
    }
}

/// A CSR pasted into the portal is at most 16 KiB, and so is its form.
enum DeviceCertificateRequestLimit {
    static let formBytes = 32 * 1024
}
