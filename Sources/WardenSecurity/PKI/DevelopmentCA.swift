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

    private let authority: IssuingAuthority

    /// The CA's certificate.
    public var certificate: Certificate { authority.certificate }

    /// Makes a new CA valid for ten years from `now`.
    public static func generate(now: Date) throws(WardenError) -> (DevelopmentCA, Issued) {
        let name: DistinguishedName
        do {
            name = try DistinguishedName {
                OrganizationName("Warden")
                CommonName("Warden Development CA")
            }
        } catch {
            throw WardenError(.internalError, "Could not name the development CA: \(error).")
        }
        let generated = try IssuingAuthority.generate(subject: name, now: now, lifetime: 10 * 365 * 86_400)
        let issued = Issued(
            certificatePEM: generated.certificatePEM, privateKeyPEM: generated.privateKeyPEM,
            notValidAfter: generated.authority.certificate.notValidAfter)
        return (DevelopmentCA(authority: generated.authority), issued)
    }

    /// Loads a CA from its PEM certificate and PEM private key.
    public init(certificatePEM: String, privateKeyPEM: SecretBytes) throws(WardenError) {
        do {
            self.authority = try IssuingAuthority(certificatePEM: certificatePEM, privateKeyPEM: privateKeyPEM)
        } catch {
            throw WardenError(
                .internalError, "The development CA in the data directory cannot be read: \(error.reason)")
        }
    }

    private init(authority: IssuingAuthority) {
        self.authority = authority
    }

    /// Issues a TLS server certificate for `dnsNames` and `ipAddresses`, valid for `lifetime` from `now`.
    public func issueServerCertificate(
        dnsNames: [String], ipAddresses: [IPAddress], now: Date, lifetime: TimeInterval
    ) throws(WardenError) -> Issued {
        let (signed, key) = try authority.issueServerCertificate(
            dnsNames: dnsNames, ipAddresses: ipAddresses, now: now, lifetime: lifetime)
        return Issued(certificatePEM: signed.certificatePEM, privateKeyPEM: key, notValidAfter: signed.notValidAfter)
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
