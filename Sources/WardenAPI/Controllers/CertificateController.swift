import Foundation
import Hummingbird
import WardenCore
import WardenPKI

/// `/api/v1/tenants/{tenant}/certificates`: device certificates the tenant's issuing CAs sign, renew and revoke.
struct CertificateController {
    let certificates: CertificateService
    let clock: any WardenClock
    static let base = "/api/v1/tenants/{tenant}/certificates"

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, Self.base, "listCertificates", "List the certificates the tenant's CAs issued",
                permission: .registryRead, success: (200, "IssuedCertificateList"),
                query: QueryParameter.certificateFilters
            ) { request, context in
                let (cursor, limit) = try request.pagination
                let page = try await certificates.certificates(
                    try request.tenantID(context), filter: try Self.filter(request), after: cursor, limit: limit)
                let now = clock.now()
                return try JSONResponse.make(
                    ListResource(
                        items: page.items.map { IssuedCertificateResource($0, now: now) },
                        nextCursor: PageCursor.encode(page.nextCursor)))
            },
            APIRoute(
                .post, Self.base, "issueCertificate", "Issue a device certificate from a CSR",
                permission: .credentialsManage, request: "IssueCertificate", success: (201, "IssuedCertificate")
            ) { request, context in
                let body = try await request.decodeJSON(IssueCertificateRequest.self, context)
                let issued = try await certificates.issue(
                    try request.tenantID(context), authority: body.certificateAuthority, csrPEM: body.csr,
                    deviceID: body.deviceId, days: body.days, by: try context.author())
                context.auditDetail("certificate.serial", issued.serial.serial)
                return try JSONResponse.make(IssuedCertificateResource(issued, now: clock.now()), status: .created)
            },
            APIRoute(
                .get, Self.base + "/{serial}", "getCertificate", "Read one issued certificate",
                permission: .registryRead, success: (200, "IssuedCertificate")
            ) { request, context in
                let found = try await certificates.certificate(
                    try request.tenantID(context), serial: try request.parameter("serial", context))
                return try JSONResponse.make(IssuedCertificateResource(found, now: clock.now()))
            },
            APIRoute(
                .post, Self.base + "/{serial}/renew", "renewCertificate",
                "Issue a new certificate for the same device and CA; the old one stays valid until it expires",
                permission: .credentialsManage, request: "RenewCertificate", success: (201, "IssuedCertificate")
            ) { request, context in
                let body = try await request.decodeJSON(RenewCertificateRequest.self, context)
                let renewed = try await certificates.renew(
                    try request.tenantID(context), serial: try request.parameter("serial", context), csrPEM: body.csr,
                    days: body.days, by: try context.author())
                context.auditDetail("certificate.serial", renewed.serial.serial)
                return try JSONResponse.make(IssuedCertificateResource(renewed, now: clock.now()), status: .created)
            },
            APIRoute(
                .post, Self.base + "/{serial}/revoke", "revokeCertificate",
                "Revoke a certificate: CRL and OCSP list it, and connections that presented it close",
                permission: .credentialsManage, request: "RevokeCertificate", success: (200, "IssuedCertificate")
            ) { request, context in
                let body = try await request.decodeJSON(RevokeCertificateRequest.self, context)
                let revoked = try await certificates.revoke(
                    try request.tenantID(context), serial: try request.parameter("serial", context),
                    reason: body.reason)
                context.auditDetail("revocation.reason", body.reason.rawValue)
                return try JSONResponse.make(IssuedCertificateResource(revoked, now: clock.now()))
            },
        ]
    }

    private static func filter(_ request: Request) throws -> IssuedCertificateFilter {
        let query = request.uri.queryParameters
        var filter = IssuedCertificateFilter()
        filter.deviceID = try query.get("device").map { try DeviceID(String($0)) }
        filter.authority = try query.get("ca").map { try CAName(String($0)) }
        if let text = query.get("status") {
            guard let status = IssuedCertificate.Status(rawValue: String(text)) else {
                throw WardenError(.requestInvalidQuery, "'status' is valid, expired or revoked.")
            }
            filter.status = status
        }
        if let text = query.get("expiring-within-days") {
            // total: parses text: nil unless a number in range.
            guard let days = Int(text), (0...36_500).contains(days) else {
                throw WardenError(.requestInvalidQuery, "'expiring-within-days' is a whole number from 0 to 36500.")
            }
            filter.expiringBefore = Date().addingTimeInterval(Double(days) * 86_400)
        }
        return filter
    }
}

extension QueryParameter {
    /// The certificate list's filters.
    static let certificateFilters: [QueryParameter] = [
        QueryParameter(name: "device", schema: ["type": "string"], description: "Only this device's certificates."),
        QueryParameter(name: "ca", schema: ["type": "string"], description: "Only what this CA issued."),
        QueryParameter(
            name: "status", schema: ["type": "string", "enum": ["valid", "expired", "revoked"]],
            description: "Only certificates in this state."),
        QueryParameter(
            name: "expiring-within-days", schema: ["type": "integer", "minimum": 0, "maximum": 36_500],
            description: "Only valid certificates that expire within this many days."),
    ]
}
