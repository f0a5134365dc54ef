public import Foundation

/// What a connection's TLS client certificate says that policy conditions ask about: who issued it and until
/// when it is valid.
public struct PresentedCertificate: Sendable, Hashable {
    /// The issuer's distinguished name as RFC 4514 writes it (`CN=Fleet CA,O=Example`).
    public let issuer: String
    /// The issuer's common name, when it has one.
    public let issuerCommonName: String?
    public let notValidAfter: Date

    public init(issuer: String, issuerCommonName: String?, notValidAfter: Date) {
        self.issuer = issuer
        self.issuerCommonName = issuerCommonName
        self.notValidAfter = notValidAfter
    }
}
