import Crypto
import SwiftASN1
public import WardenCore
import X509

extension Thumbprint {
    /// The SHA-1 and SHA-256 thumbprints of a DER certificate: a device registered with either matches.
    public static func of(certificate der: [UInt8]) -> [Thumbprint] {
        [hex(Insecure.SHA1.hash(data: der)), hex(SHA256.hash(data: der))].compactMap { try? Thumbprint($0) }
    }

    /// Upper-case hex, the form `Thumbprint` stores.
    private static func hex(_ digest: some Digest) -> String {
        Hex.encode(digest, uppercase: true)
    }
}

extension PresentedCertificate {
    /// The issuer and expiry of a DER certificate; nil when it does not parse (the TLS handshake parsed it
    /// already, so only a certificate swift-certificates reads differently from BoringSSL).
    public init?(der: [UInt8]) {
        guard let certificate = try? Certificate(derEncoded: der) else { return nil }
        self.init(
            issuer: certificate.issuer.description,
            issuerCommonName: CertificateAuthorityCheck.commonName(of: certificate.issuer),
            notValidAfter: certificate.notValidAfter)
    }
}
