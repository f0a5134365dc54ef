import Crypto
import CryptoExtras
public import Foundation
import SwiftASN1
public import WardenCore
public import X509

/// A certificate authority whose key Warden holds (issue 15): a P-256 root that signs device certificates from
/// CSRs, its CRL and its OCSP answers. The development CA is one too, issuing the server's certificate.
public struct IssuingAuthority: Sendable {
    /// A new CA: the authority, its certificate and its private key (PKCS#8 PEM: seal it before it is stored).
    public struct Generated: Sendable {
        public let authority: IssuingAuthority
        public let certificatePEM: String
        public let privateKeyPEM: SecretBytes
    }

    /// Where relying parties check revocation: written into every certificate issued.
    public struct Locations: Sendable, Hashable {
        /// The CRL's URL (a CRL distribution point).
        public let crl: String
        /// The OCSP responder's URL (authority information access).
        public let ocsp: String

        public init(crl: String, ocsp: String) {
            self.crl = crl
            self.ocsp = ocsp
        }
    }

    /// A certificate signed by the authority.
    public struct Signed: Sendable {
        public let certificatePEM: String
        public let serial: CertificateSerial
        /// SHA-256 of its DER form.
        public let thumbprint: Thumbprint
        public let notValidBefore: Date
        public let notValidAfter: Date
    }

    /// The CA's certificate.
    public let certificate: Certificate
    /// SHA-256 of the CA certificate's DER form: the issuer half of every serial it signs.
    public let thumbprint: Thumbprint
    let key: Certificate.PrivateKey

    /// A new self-signed P-256 CA named `subject`, valid for `lifetime` from `now`, its key made here.
    public static func generate(subject: DistinguishedName, now: Date, lifetime: TimeInterval) throws(WardenError)
        -> Generated
    {
        let key = P256.Signing.PrivateKey()
        let authority = try selfSigned(
            subject: subject, publicKey: Certificate.PublicKey(key.publicKey), key: Certificate.PrivateKey(key),
            now: now, lifetime: lifetime)
        return Generated(
            authority: authority, certificatePEM: authority.certificatePEM,
            privateKeyPEM: SecretBytes(Array(key.pemRepresentation.utf8)))
    }

    /// A self-signed CA certificate for `publicKey`, signed by `key`. Path length 0: it signs end-entity
    /// certificates only.
    static func selfSigned(
        subject: DistinguishedName, publicKey: Certificate.PublicKey, key: Certificate.PrivateKey, now: Date,
        lifetime: TimeInterval
    ) throws(WardenError) -> IssuingAuthority {
        do {
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(lifetime),
                issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: publicKey)
                },
                issuerPrivateKey: key)
            return try IssuingAuthority(certificate: certificate, key: key)
        } catch let error as WardenError {
            throw error
        } catch {
            throw WardenError(.internalError, "Could not create a CA: \(error).")
        }
    }

    /// The CA's certificate, PEM.
    public var certificatePEM: String {
        (try? certificate.serializeAsPEM().pemString) ?? ""
    }

    /// Loads a CA from its PEM certificate and PEM (PKCS#8 or SEC 1) P-256 private key.
    public init(certificatePEM: String, privateKeyPEM: SecretBytes) throws(WardenError) {
        do {
            let certificate = try Certificate(pemEncoded: certificatePEM)
            let key = try P256.Signing.PrivateKey(
                pemRepresentation: String(decoding: privateKeyPEM.bytes, as: UTF8.self))
            guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
                throw WardenError(.internalError, "The CA's private key does not belong to its certificate.")
            }
            try self.init(certificate: certificate, key: Certificate.PrivateKey(key))
        } catch let error as WardenError {
            throw error
        } catch {
            throw WardenError(.internalError, "A CA's certificate or key cannot be read: \(error).")
        }
    }

    init(certificate: Certificate, key: Certificate.PrivateKey) throws(WardenError) {
        self.certificate = certificate
        self.thumbprint = try CertificateAuthorityCheck.thumbprint(of: certificate)
        self.key = key
    }

    /// Signs a certificate for `publicKey` named `subject`, valid from `now` for `lifetime` but never past
    /// the CA's own expiry. The serial is 20 bytes from the system's CSPRNG.
    func sign(
        subject: DistinguishedName, publicKey: Certificate.PublicKey, now: Date, lifetime: TimeInterval,
        extensions: Certificate.Extensions
    ) throws -> Signed {
        let notBefore = now.addingTimeInterval(-300)
        let notAfter = min(now.addingTimeInterval(lifetime), certificate.notValidAfter)
        let serialNumber = Certificate.SerialNumber()
        let signed = try Certificate(
            version: .v3, serialNumber: serialNumber, publicKey: publicKey, notValidBefore: notBefore,
            notValidAfter: notAfter, issuer: certificate.subject, subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: key)
        return Signed(
            certificatePEM: try signed.serializeAsPEM().pemString,
            serial: CertificateSerial(issuer: thumbprint, serial: PKIEncoding.serialText(serialNumber.bytes)),
            thumbprint: try CertificateAuthorityCheck.thumbprint(of: signed), notValidBefore: notBefore,
            notValidAfter: notAfter)
    }

    /// The key identifier the CA's certificates and CRLs name it by.
    var keyIdentifier: ArraySlice<UInt8> {
        SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
    }

    /// Signs `bytes` with the CA's key (ECDSA with SHA-256): the DER `ECDSA-Sig-Value`.
    func signature(for bytes: [UInt8]) throws -> [UInt8] {
        try key.sign(bytes: bytes, signatureAlgorithm: .ecdsaWithSHA256).rawRepresentation
    }
}

extension IssuingAuthority {
    /// Issues a device certificate for `request`: CN = `deviceID`, client authentication only, with the CRL
    /// distribution point and OCSP responder at `locations`.
    public func issueDeviceCertificate(
        _ request: DeviceCertificateRequest, deviceID: DeviceID, now: Date, lifetime: TimeInterval,
        locations: Locations
    ) throws(WardenError) -> Signed {
        do {
            let subject = try DistinguishedName { CommonName(deviceID.rawValue) }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: request.isRSA))
                try ExtendedKeyUsage([.clientAuth])
                SubjectKeyIdentifier(hash: request.publicKey)
                AuthorityKeyIdentifier(keyIdentifier: keyIdentifier)
                AuthorityInformationAccess([
                    .init(method: .ocspServer, location: .uniformResourceIdentifier(locations.ocsp))
                ])
                try Self.distributionPoint(locations.crl)
            }
            return try sign(
                subject: subject, publicKey: request.publicKey, now: now, lifetime: lifetime, extensions: extensions)
        } catch {
            throw WardenError(.internalError, "Could not issue a certificate for '\(deviceID)': \(error).")
        }
    }

    /// Issues a TLS server certificate for `dnsNames` and `ipAddresses` with a fresh P-256 key.
    public func issueServerCertificate(
        dnsNames: [String], ipAddresses: [IPAddress], now: Date, lifetime: TimeInterval
    ) throws(WardenError) -> (Signed, privateKeyPEM: SecretBytes) {
        let key = P256.Signing.PrivateKey()
        do {
            let names =
                dnsNames.map { GeneralName.dnsName($0) }
                + ipAddresses.map { GeneralName.ipAddress(ASN1OctetString(contentBytes: ArraySlice($0.bytes))) }
            let publicKey = Certificate.PublicKey(key.publicKey)
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
                SubjectKeyIdentifier(hash: publicKey)
                AuthorityKeyIdentifier(keyIdentifier: keyIdentifier)
            }
            let signed = try sign(
                subject: try DistinguishedName { CommonName(dnsNames.first ?? "warden") }, publicKey: publicKey,
                now: now, lifetime: lifetime, extensions: extensions)
            return (signed, SecretBytes(Array(key.pemRepresentation.utf8)))
        } catch {
            throw WardenError(.internalError, "Could not issue the server certificate: \(error).")
        }
    }

    /// RFC 5280 §4.2.1.13 with one distribution point: its full name, one URI.
    private static func distributionPoint(_ url: String) throws -> Certificate.Extension {
        var coder = DER.Serializer()
        try coder.appendConstructedNode(identifier: .sequence) { points in
            try points.appendConstructedNode(identifier: .sequence) { point in
                try point.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { name in
                    // fullName [0] IMPLICIT GeneralNames.
                    try name.appendConstructedNode(
                        identifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)
                    ) {
                        try $0.serialize(GeneralName.uniformResourceIdentifier(url))
                    }
                }
            }
        }
        return Certificate.Extension(
            oid: PKIEncoding.crlDistributionPoints, critical: false, value: ArraySlice(coder.serializedBytes))
    }
}

/// A device's certificate signing request (PKCS #10), checked: it parses, its signature is by the key it
/// carries, and that key is one TLS clients use (P-256, P-384, or RSA of 2048 to 4096 bits).
public struct DeviceCertificateRequest: Sendable {
    /// A CSR larger than this is refused before it is parsed.
    public static let maximumPEMBytes = 16_384

    public let publicKey: Certificate.PublicKey
    /// The subject's CN, when it has one.
    public let commonName: String?
    let isRSA: Bool

    /// Parses and checks a PEM CSR.
    public init(pem: String) throws(WardenError) {
        guard pem.utf8.count <= Self.maximumPEMBytes else {
            throw WardenError(
                .certificateInvalidRequest, "The CSR is larger than \(Self.maximumPEMBytes) bytes.")
        }
        let request: CertificateSigningRequest
        do {
            request = try CertificateSigningRequest(pemEncoded: pem)
        } catch {
            throw WardenError(.certificateInvalidRequest, "The CSR is not one PEM-encoded PKCS #10 request.")
        }
        guard request.publicKey.isValidSignature(request.signature, for: request) else {
            throw WardenError(.certificateInvalidRequest, "The CSR's signature is not by the key it carries.")
        }
        if let rsa = _RSA.Signing.PublicKey(request.publicKey) {
            guard (2048...4096).contains(rsa.keySizeInBits) else {
                throw WardenError(
                    .certificateInvalidRequest,
                    "The CSR's RSA key has \(rsa.keySizeInBits) bits; 2048 to 4096 are accepted.")
            }
            self.isRSA = true
        } else {
            guard P256.Signing.PublicKey(request.publicKey) != nil || P384.Signing.PublicKey(request.publicKey) != nil
            else {
                throw WardenError(
                    .certificateInvalidRequest, "The CSR's key is not P-256, P-384 or RSA; TLS clients use those.")
            }
            self.isRSA = false
        }
        self.publicKey = request.publicKey
        self.commonName = CertificateAuthorityCheck.commonName(of: request.subject)
    }
}
