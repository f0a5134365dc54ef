import Hummingbird
import WardenCore
import WardenPKI
import WardenRegistry
import WardenSecurity

/// `/api/v1/tenants/{tenant}/certificate-authorities`: CAs for `x509-ca` devices and their proof of possession.
struct CertificateAuthorityController {
    let registry: RegistryService
    let certificates: CertificateService
    let clock: any WardenClock
    static let base = "/api/v1/tenants/{tenant}/certificate-authorities"

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, Self.base, "listCertificateAuthorities", "List the tenant's CAs",
                permission: .registryRead, success: (200, "CertificateAuthorityList")
            ) { request, context in
                let authorities = try await registry.certificateAuthorities(try request.tenantID(context))
                return try JSONResponse.make(
                    ListResource(items: authorities.map(CertificateAuthorityResource.init), nextCursor: nil))
            },
            APIRoute(
                .post, Self.base, "createCertificateAuthority",
                "Register a CA certificate (unverified), or create an issuing CA (verified)",
                permission: .credentialsManage, request: "CreateCertificateAuthority",
                success: (201, "CertificateAuthority")
            ) { request, context in
                let body = try await request.decodeJSON(CreateCertificateAuthorityRequest.self, context)
                let tenantID = try request.tenantID(context)
                let authority: CertificateAuthority
                switch (body.certificate, body.issuing) {
                case (let pem?, nil):
                    authority = try await registry.addCertificateAuthority(tenantID, body.name, certificatePEM: pem)
                case (nil, let issuing?):
                    authority = try await certificates.createAuthority(
                        tenantID, body.name, commonName: issuing.commonName, days: issuing.days ?? 3_650)
                default:
                    throw WardenError(
                        .requestInvalidField,
                        "Send 'certificate' (a CA you run) or 'issuing' (one Warden creates), not both.")
                }
                return try JSONResponse.make(CertificateAuthorityResource(authority), status: .created)
            },
            APIRoute(
                .get, Self.base + "/{ca}", "getCertificateAuthority", "Read one CA",
                permission: .registryRead, success: (200, "CertificateAuthority")
            ) { request, context in
                let authority = try await registry.certificateAuthority(
                    try request.tenantID(context), try Self.name(request, context))
                return try JSONResponse.make(CertificateAuthorityResource(authority))
            },
            APIRoute(
                .post, Self.base + "/{ca}/verification-code", "issueVerificationCode",
                "Issue the code a proof-of-possession certificate must carry as CN",
                permission: .credentialsManage, success: (200, "CertificateAuthority")
            ) { request, context in
                let authority = try await registry.issueVerificationCode(
                    try request.tenantID(context), try Self.name(request, context))
                return try JSONResponse.make(CertificateAuthorityResource(authority))
            },
            APIRoute(
                .post, Self.base + "/{ca}/verify", "verifyCertificateAuthority",
                "Prove possession of the CA's key with a certificate it signed for the code",
                permission: .credentialsManage, request: "VerifyCertificateAuthority",
                success: (200, "CertificateAuthority")
            ) { request, context in
                let body = try await request.decodeJSON(VerifyCertificateAuthorityRequest.self, context)
                let authority = try await registry.verifyCertificateAuthority(
                    try request.tenantID(context), try Self.name(request, context), proofPEM: body.certificate)
                return try JSONResponse.make(CertificateAuthorityResource(authority))
            },
            APIRoute(
                .put, Self.base + "/{ca}/revocation", "setRevocationCheck",
                "Check revocation of an external CA's certificates with its CRL: off, soft-fail or hard-fail",
                permission: .credentialsManage, request: "SetRevocationCheck", success: (200, "CertificateAuthority")
            ) { request, context in
                let body = try await request.decodeJSON(SetRevocationCheckRequest.self, context)
                let authority = try await certificates.setRevocationCheck(
                    try request.tenantID(context), try Self.name(request, context), try body.check())
                return try JSONResponse.make(CertificateAuthorityResource(authority))
            },
            APIRoute(
                .get, Self.base + "/{ca}/crl", "getRevocationListStatus", "The external CA's CRL in force",
                permission: .registryRead, success: (200, "RevocationListStatus")
            ) { request, context in
                let tenantID = try request.tenantID(context)
                let name = try Self.name(request, context)
                _ = try await registry.certificateAuthority(tenantID, name)
                let status = certificates.revocationListStatus(tenantID, name)
                return try JSONResponse.make(
                    RevocationListResource(status.list, fetchError: status.fetchError, now: clock.now()))
            },
            APIRoute(
                .put, Self.base + "/{ca}/crl", "uploadRevocationList",
                "Put a CRL (DER or PEM) the external CA signed in force; an older one than in force is refused",
                permission: .credentialsManage, request: "CRL", success: (200, "RevocationListStatus")
            ) { request, context in
                let body = try await request.collectBody(upTo: ExternalRevocationList.maximumBytes)
                let list = try await certificates.acceptRevocationList(
                    try request.tenantID(context), try Self.name(request, context),
                    bytes: Array(body.readableBytesView), source: "upload")
                context.auditDetail("crl.revoked", "\(list.serials.count)")
                return try JSONResponse.make(RevocationListResource(list, fetchError: nil, now: clock.now()))
            },
            APIRoute(
                .delete, Self.base + "/{ca}", "deleteCertificateAuthority", "Remove a CA",
                permission: .credentialsManage, success: (204, nil)
            ) { request, context in
                try await registry.deleteCertificateAuthority(
                    try request.tenantID(context), try Self.name(request, context))
                return JSONResponse.noContent()
            },
        ]
    }

    private static func name(_ request: Request, _ context: APIRequestContext) throws -> CAName {
        try CAName(try request.parameter("ca", context))
    }
}
