public import Foundation

/// The name of a tenant's registered certificate authority: 1 to 64 letters, digits and `- . _`.
public typealias CAName = RuledIdentifier<CANameRules>

public enum CANameRules: IdentifierKind {
    public static let rules = IdentifierRules("CA name", maximumLength: 64, punctuation: "-._", code: .caInvalidName)
}

/// A CA certificate a tenant registered for `x509-ca` devices (issue 3): devices whose certificate chains to
/// it, with CN = device id, authenticate — once the tenant proved it holds the CA's key by signing a
/// certificate whose CN is a verification code the hub issued. An issuing CA (issue 15) is one Warden made
/// and holds the key of: it is verified from the start and issues device certificates.
public struct CertificateAuthority: Sendable, Hashable {
    public let tenantID: TenantID
    public let name: CAName
    /// The CA certificate, PEM.
    public let certificatePEM: String
    /// SHA-256 of its DER form.
    public let thumbprint: Thumbprint
    /// Its subject, for people.
    public let subject: String
    public let notValidAfter: Date
    /// Whether proof of possession succeeded; only verified CAs admit devices.
    public var isVerified: Bool
    /// The code the next proof-of-possession certificate must carry as CN, while one is outstanding.
    public var verificationCode: String?
    /// Whether Warden holds its key and issues certificates with it.
    public let isIssuing: Bool
    /// How revocation of what an external CA issued is checked (CRLs; off by default).
    public var revocationCheck: RevocationCheck
    public let createdAt: Date

    public init(
        tenantID: TenantID, name: CAName, certificatePEM: String, thumbprint: Thumbprint, subject: String,
        notValidAfter: Date, isVerified: Bool = false, verificationCode: String? = nil, isIssuing: Bool = false,
        revocationCheck: RevocationCheck = .off, createdAt: Date
    ) {
        self.tenantID = tenantID
        self.name = name
        self.certificatePEM = certificatePEM
        self.thumbprint = thumbprint
        self.subject = subject
        self.notValidAfter = notValidAfter
        self.isVerified = isVerified
        self.verificationCode = verificationCode
        self.isIssuing = isIssuing
        self.revocationCheck = revocationCheck
        self.createdAt = createdAt
    }
}
