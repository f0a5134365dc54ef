public import Foundation
import WardenCore

/// A tenant CA for `x509-ca` devices.
public struct CertificateAuthorityResource: Codable, Sendable {
    public let name: String
    public let subject: String
    public let thumbprint: String
    public let notValidAfter: Date
    public let verified: Bool
    /// Whether Warden holds its key and issues device certificates with it.
    public let issuing: Bool
    /// How revocation of what an external CA issued is checked.
    public let revocation: RevocationCheckResource
    /// The outstanding verification code, while one is.
    public let verificationCode: String?
    public let certificate: String

    init(_ authority: CertificateAuthority) {
        self.name = authority.name.rawValue
        self.subject = authority.subject
        self.thumbprint = authority.thumbprint.rawValue
        self.notValidAfter = authority.notValidAfter
        self.verified = authority.isVerified
        self.issuing = authority.isIssuing
        self.revocation = RevocationCheckResource(authority.revocationCheck)
        self.verificationCode = authority.verificationCode
        self.certificate = authority.certificatePEM
    }
}

/// `POST /tenants/{tenant}/certificate-authorities`: register a CA by its certificate, or have Warden create an
/// issuing one.
struct CreateCertificateAuthorityRequest: APIRequestBody {
    /// What an issuing CA is made with.
    struct Issuing: Codable, Sendable {
        let commonName: String?
        let days: Int?
    }

    static let fields: Set<String> = ["name", "certificate", "issuing"]
    let name: CAName
    /// PEM, for a CA the tenant runs.
    let certificate: String?
    let issuing: Issuing?
}

/// `POST /tenants/{tenant}/certificate-authorities/{ca}/verify`.
struct VerifyCertificateAuthorityRequest: APIRequestBody {
    static let fields: Set<String> = ["certificate"]
    /// PEM of a certificate with CN = the verification code, signed by the CA.
    let certificate: String
}

/// `PUT /tenants/{tenant}/certificate-authorities/{ca}/revocation`, and how a CA shows it.
public struct RevocationCheckResource: Codable, Sendable {
    public let mode: String
    public let crlUrl: String?
    public let refreshSeconds: Int
    /// Whether certificates are also asked of their OCSP responder at connection.
    public let ocsp: Bool

    init(_ check: RevocationCheck) {
        self.mode = check.mode.rawValue
        self.crlUrl = check.crlURL
        self.refreshSeconds = check.refreshSeconds
        self.ocsp = check.ocsp
    }
}

/// The body of `PUT …/revocation`.
struct SetRevocationCheckRequest: APIRequestBody {
    static let fields: Set<String> = ["mode", "crlUrl", "refreshSeconds", "ocsp"]
    let mode: String
    let crlUrl: String?
    let refreshSeconds: Int?
    let ocsp: Bool?

    func check() throws -> RevocationCheck {
        guard let mode = RevocationCheck.Mode(rawValue: mode) else {
            throw WardenError(.requestInvalidField, "'mode' is off, soft-fail or hard-fail.")
        }
        guard ocsp != true || mode != .off else {
            throw WardenError(.requestInvalidField, "'ocsp' needs mode soft-fail or hard-fail.")
        }
        return RevocationCheck(
            mode: mode, crlURL: crlUrl, refreshSeconds: refreshSeconds ?? 3_600, ocsp: ocsp ?? false)
    }
}

/// An external CA's CRL in force (`GET|PUT …/crl`).
public struct RevocationListResource: Codable, Sendable {
    /// Whether a CRL is in force and not past its `nextUpdate`.
    public let current: Bool
    public let revokedCount: Int
    public let thisUpdate: Date?
    public let nextUpdate: Date?
    public let number: String?
    /// `upload`, or the URL it was fetched from.
    public let source: String?
    public let updatedAt: Date?
    /// Why the last fetch from the CRL URL failed, if it did.
    public let fetchError: String?

    init(_ list: RevocationListState?, fetchError: String?, now: Date) {
        self.current = list?.isCurrent(at: now) ?? false
        self.revokedCount = list?.serials.count ?? 0
        self.thisUpdate = list?.thisUpdate
        self.nextUpdate = list?.nextUpdate
        self.number = list?.number
        self.source = list?.source
        self.updatedAt = list?.updatedAt
        self.fetchError = fetchError
    }
}
