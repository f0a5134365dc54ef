import Crypto
public import Foundation
import SwiftASN1
public import WardenCore
public import X509

/// The development certificate authority a fresh data directory gets, so TLS works before an operator
/// brings real certificates: a P-256 root that issues the server certificate.
///
/// Its certificate is for clients to trust (`DATA_DIR/tls/ca.pem`); its key never leaves the data directory
/// and is sealed there under the master key.
public struct DevelopmentCA: Sendable {
    /// A certificate and its private key, both in PEM.
    public struct Issued: Sendable {
        /// The certificate, PEM.
        public let certificatePEM: String
        /// The private key, PKCS#8 PEM; seal it before it touches the disk.
        public let privateKeyPEM: SecretBytes
        /// When it stops being valid.
        public let notValidAfter: Date
    }

    /// The CA's certificate.
    public let certificate: Certificate
    private let privateKey: P256.Signing.PrivateKey

    /// Makes a new CA valid for ten years from `now`.
    public static func generate(now: Date) throws(WardenError) -> (DevelopmentCA, Issued) {
        let key = P256.Signing.PrivateKey()
        do {
            let name = try DistinguishedName {
                OrganizationName("Warden")
                CommonName("Warden Development CA")
            }
            let notAfter = now.addingTimeInterval(10 * 365 * 86_400)
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(),
                publicKey: Certificate.PublicKey(key.publicKey),
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: notAfter,
                issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
                },
                issuerPrivateKey: Certificate.PrivateKey(key))
            let issued = Issued(
                certificatePEM: try certificate.serializeAsPEM().pemString,
                privateKeyPEM: SecretBytes(Array(key.pemRepresentation.utf8)), notValidAfter: notAfter)
            return (DevelopmentCA(certificate: certificate, privateKey: key), issued)
        } catch {
            throw WardenError(.internalError, "Could not create the development CA: \(error).")
        }
    }

    /// Loads a CA from its PEM certificate and PEM private key.
    public init(certificatePEM: String, privateKeyPEM: SecretBytes) throws(WardenError) {
        do {
            self.certificate = try Certificate(pemEncoded: certificatePEM)
            self.privateKey = try P256.Signing.PrivateKey(
                pemRepresentation: String(decoding: privateKeyPEM.bytes, as: UTF8.self))
        } catch {
            throw WardenError(.internalError, "The development CA in the data directory cannot be read: \(error).")
        }
    }

    private init(certificate: Certificate, privateKey: P256.Signing.PrivateKey) {
        self.certificate = certificate
        self.privateKey = privateKey
    }

    /// Issues a TLS server certificate for `dnsNames` and `ipAddresses`, valid for `lifetime` from `now`.
    public func issueServerCertificate(
        dnsNames: [String], ipAddresses: [IPAddress], now: Date, lifetime: TimeInterval
    ) throws(WardenError) -> Issued {
        let key = P256.Signing.PrivateKey()
        let notAfter = min(now.addingTimeInterval(lifetime), certificate.notValidAfter)
        do {
            let names =
                dnsNames.map { GeneralName.dnsName($0) }
                + ipAddresses.map { GeneralName.ipAddress(ASN1OctetString(contentBytes: ArraySlice($0.bytes))) }
            let server = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(),
                publicKey: Certificate.PublicKey(key.publicKey),
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: notAfter,
                issuer: certificate.subject,
                subject: try DistinguishedName { CommonName(dnsNames.first ?? "warden") },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth])
                    SubjectAlternativeNames(names)
                    SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
                    AuthorityKeyIdentifier(keyIdentifier: authorityKeyIdentifier)
                },
                issuerPrivateKey: Certificate.PrivateKey(privateKey))
            return Issued(
                certificatePEM: try server.serializeAsPEM().pemString,
                privateKeyPEM: SecretBytes(Array(key.pemRepresentation.utf8)), notValidAfter: notAfter)
        } catch {
            throw WardenError(.internalError, "Could not issue the server certificate: \(error).")
        }
    }

    private var authorityKeyIdentifier: ArraySlice<UInt8> {
        SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
    }
}

extension DevelopmentCA {
    /// The `notValidAfter` of a PEM certificate.
    public static func expiry(ofPEM pem: String) throws -> Date {
        try Certificate(pemEncoded: pem).notValidAfter
    }

    /// The DNS names in a PEM certificate's subject alternative names.
    public static func names(ofPEM pem: String) throws -> [String] {
        let certificate = try Certificate(pemEncoded: pem)
        guard let names = try certificate.extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { name in
            if case .dnsName(let dns) = name { return dns }
            return nil
        }
    }
}
