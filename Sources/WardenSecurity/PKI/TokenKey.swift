public import Crypto
public import Foundation
import SwiftASN1
public import WardenCore
public import X509

/// Where CA keys live when they live in hardware: a PKCS #11 token that generates P-256 key pairs and signs
/// with them, never letting the private key out.
public protocol HardwareSigner: Sendable {
    /// Generates a P-256 key pair labelled `label` inside the token; its public key.
    func generateP256(label: String) throws(WardenError) -> P256.Signing.PublicKey
    /// The public key of the pair labelled `label`.
    func publicKeyP256(label: String) throws(WardenError) -> P256.Signing.PublicKey
    /// ECDSA over a SHA-256 digest with the private key labelled `label`: r ‖ s.
    func signP256(digest: [UInt8], label: String) throws(WardenError) -> [UInt8]
}

/// A CA's private key inside a token, as swift-certificates signs with it: certificates, CRLs and OCSP answers
/// are signed by the token.
struct TokenKey: CustomPrivateKey {
    static let defaultPEMDiscriminator = "PRIVATE KEY"

    let signer: any HardwareSigner
    let label: String
    let publicKey: Certificate.PublicKey

    var defaultSignatureAlgorithm: Certificate.SignatureAlgorithm { .ecdsaWithSHA256 }
    var supportedSignatureAlgorithms: [Certificate.SignatureAlgorithm] { [.ecdsaWithSHA256] }

    func signSynchronously(bytes: some DataProtocol, signatureAlgorithm: Certificate.SignatureAlgorithm) throws
        -> Certificate.Signature
    {
        guard signatureAlgorithm == .ecdsaWithSHA256 else {
            throw WardenError(.internalError, "A token key signs with ECDSA and SHA-256 only.")
        }
        let raw = try signer.signP256(digest: Array(SHA256.hash(data: Array(bytes))), label: label)
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: raw)
        return try Certificate.Signature(
            signatureAlgorithm: .ecdsaWithSHA256,
            signatureBytes: ASN1BitString(bytes: ArraySlice(signature.derRepresentation)))
    }

    /// A token's private key has no serialization: it never leaves the token.
    func serialize(into coder: inout DER.Serializer) throws {
        throw WardenError(.internalError, "A key in the token cannot be serialized.")
    }

    static func == (lhs: TokenKey, rhs: TokenKey) -> Bool { lhs.label == rhs.label && lhs.publicKey == rhs.publicKey }

    func hash(into hasher: inout Hasher) {
        hasher.combine(label)
    }
}

extension IssuingAuthority {
    /// A new self-signed P-256 CA whose key the token generates under `label` and keeps.
    public static func generate(
        subject: DistinguishedName, now: Date, lifetime: TimeInterval, in signer: any HardwareSigner, label: String
    ) throws(WardenError) -> IssuingAuthority {
        let publicKey = Certificate.PublicKey(try signer.generateP256(label: label))
        let key = Certificate.PrivateKey(TokenKey(signer: signer, label: label, publicKey: publicKey))
        return try selfSigned(subject: subject, publicKey: publicKey, key: key, now: now, lifetime: lifetime)
    }

    /// A CA whose key is in the token under `label`.
    public init(certificatePEM: String, in signer: any HardwareSigner, label: String) throws(WardenError) {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: certificatePEM)
        } catch {
            throw WardenError(.internalError, "A CA's certificate cannot be read: \(error).")
        }
        let publicKey = Certificate.PublicKey(try signer.publicKeyP256(label: label))
        guard certificate.publicKey == publicKey else {
            throw WardenError(.internalError, "The token's key '\(label)' does not belong to the CA's certificate.")
        }
        try self.init(
            certificate: certificate,
            key: Certificate.PrivateKey(TokenKey(signer: signer, label: label, publicKey: publicKey)))
    }
}
