import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WardenCore
import WardenPKI
import WardenSecurity

/// `/pki/…`: what relying parties fetch to check revocation, without credentials (RFC 5280 §4.2.1.13, RFC 6960):
/// each issuing CA's CRL and the OCSP responder. The same routes answer on the optional plain-HTTP listener.
struct PKIController {
    let certificates: CertificateService

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, "/pki/{tenant}/{crl}", "getCertificateRevocationList",
                "An issuing CA's CRL (DER): `/pki/{tenant}/{ca}.crl`", permission: nil, success: (200, "CRL")
            ) { request, context in
                let file = try request.parameter("crl", context)
                guard file.hasSuffix(".crl") else {
                    throw WardenError(.caNotFound, "There is no CRL '\(file.prefix(80))': a CRL is named '{ca}.crl'.")
                }
                let der = try await certificates.revocationList(
                    try request.tenantID(context), try CAName(String(file.dropLast(4))))
                return Self.binary(der, type: "application/pkix-crl")
            },
            APIRoute(
                .post, "/pki/ocsp", "answerOCSP", "Answer an OCSP request (RFC 6960) about a certificate Warden issued",
                permission: nil, request: "OCSPRequest", success: (200, "OCSPResponse")
            ) { request, _ in
                let body = try await request.collectBody(upTo: OCSPQuery.maximumBytes)
                let answer = await certificates.answerOCSP(Array(body.readableBytesView))
                return Self.binary(answer, type: "application/ocsp-response")
            },
        ]
    }

    private static func binary(_ bytes: [UInt8], type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
