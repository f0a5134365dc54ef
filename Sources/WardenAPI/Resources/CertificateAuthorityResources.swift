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
