import Crypto
public import Foundation
import SwiftASN1
public import WardenCore
public import X509

/// The X.509 checks behind `x509-ca` devices (issue 3): is a PEM a CA certificate, does a proof certificate
/// show possession of its key, and does a device's presented chain lead to one of them.
public enum CertificateAuthorityCheck {
    /// A parsed CA certificate and what the registry records about it.
    public struct Parsed: Sendable {
        public let certificate: Certificate
        public let thumbprint: Thumbprint
        public let subject: String
        public let notValidAfter: Date
    }

    /// Parses one PEM certificate and checks it is a CA (basic constraints CA:TRUE) valid at `now`.
    public static func parseCA(_ pem: String, now: Date) throws(WardenError) -> Parsed {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: pem)
        } catch {
            throw WardenError(.caInvalidCertificate, "The certificate is not one PEM-encoded X.509 certificate.")
        }
        guard case .isCertificateAuthority = try? certificate.extensions.basicConstraints else {
            throw WardenError(.caInvalidCertificate, "The certificate is not a CA (basic constraints CA:TRUE).")
        }
        guard certificate.notValidAfter > now else {
            throw WardenError(.caInvalidCertificate, "The certificate expired on \(certificate.notValidAfter).")
        }
        return Parsed(
            certificate: certificate, thumbprint: try thumbprint(of: certificate),
            subject: certificate.subject.description, notValidAfter: certificate.notValidAfter)
    }

    /// Checks the proof of possession: `proofPEM`'s subject CN is `code` and the CA's key signed it.
    public static func verifyProof(_ proofPEM: String, code: String, caPEM: String) throws(WardenError) {
        guard let proof = try? Certificate(pemEncoded: proofPEM), let ca = try? Certificate(pemEncoded: caPEM) else {
            throw WardenError(.caVerificationFailed, "The proof is not one PEM-encoded X.509 certificate.")
        }
        guard commonName(of: proof) == code else {
            throw WardenError(.caVerificationFailed, "The proof certificate's CN is not the verification code.")
        }
        guard ca.publicKey.isValidSignature(proof.signature, for: proof) else {
            throw WardenError(.caVerificationFailed, "The CA's key did not sign the proof certificate.")
        }
    }

    /// One PEM certificate, or nil.
    public static func certificate(pem: String) -> Certificate? {
        try? Certificate(pemEncoded: pem)
    }

    /// The first Common Name of `certificate`'s subject.
    public static func commonName(of certificate: Certificate) -> String? {
        commonName(of: certificate.subject)
    }

    /// The first Common Name of `name`.
    public static func commonName(of name: DistinguishedName) -> String? {
        let attribute = name.lazy.flatMap { $0 }.first { $0.type == .RDNAttributeType.commonName }
        return attribute.map { String(describing: $0.value) }
    }

    /// The most certificates a presented chain may hold (the leaf and four intermediates): the path search
    /// tries every order of intermediates that could sign each other, so a longer chain is refused before it.
    public static let maximumChainLength = 5

    /// Validates a presented chain (leaf first, DER) against `roots` at `now` (RFC 5280, client auth):
    /// the leaf's CN, the serial of each certificate on the path under the one that signed it (leaf first, the
    /// root excluded), and the root it chains to; or nil (also for more than `maximumChainLength` certificates).
    public static func validate(chain: [[UInt8]], roots: [Certificate], now: Date) async -> (
        commonName: String, path: [CertificateSerial], root: Certificate
    )? {
        guard chain.count <= maximumChainLength, let leafDER = chain.first,
            let leaf = try? Certificate(derEncoded: leafDER),
            let commonName = commonName(of: leaf), !roots.isEmpty
        else { return nil }
        let intermediates = chain.dropFirst().compactMap { try? Certificate(derEncoded: $0) }
        var verifier = Verifier(rootCertificates: CertificateStore(roots)) {
            RFC5280Policy(validationTime: now)
        }
        let result = await verifier.validate(
            leaf: leaf, intermediates: CertificateStore(intermediates), diagnosticCallback: nil)
        guard case .validCertificate(let path) = result, let root = path.last, path.count > 1 else { return nil }
        var serials: [CertificateSerial] = []
        for (certificate, issuer) in zip(path, path.dropFirst()) {
            guard let issuer = try? thumbprint(of: issuer) else { return nil }
            serials.append(
                CertificateSerial(issuer: issuer, serial: PKIEncoding.serialText(certificate.serialNumber.bytes)))
        }
        return (commonName, serials, root)
    }

    static func thumbprint(of certificate: Certificate) throws(WardenError) -> Thumbprint {
        var serializer = DER.Serializer()
        guard (try? serializer.serialize(certificate)) != nil else {
            throw WardenError(.caInvalidCertificate, "The certificate cannot be serialized.")
        }
        let hex = SHA256.hash(data: serializer.serializedBytes).map { String(format: "%02X", $0) }.joined()
        return try Thumbprint(hex)
    }
}
