import Crypto
public import Foundation
import SwiftASN1
public import WardenCore
import X509

/// An OCSP request (RFC 6960 §4.1), parsed from untrusted bytes: the certificates asked about and the nonce.
/// A signed request's signature is not checked: answers are public, as a CRL is.
public struct OCSPQuery: Sendable {
    /// One certificate asked about (a `CertID`).
    public struct Item: Sendable, Hashable {
        let hashAlgorithm: ASN1ObjectIdentifier
        let issuerNameHash: ArraySlice<UInt8>
        let issuerKeyHash: ArraySlice<UInt8>
        /// The serial asked about, canonical upper-case hex.
        public let serial: String
        /// The `CertID` as sent; an answer repeats it exactly.
        let encoded: ArraySlice<UInt8>
    }

    /// A request larger than this, or asking about more certificates, is refused as malformed.
    public static let maximumBytes = 8_192
    public static let maximumItems = 16

    public let items: [Item]
    /// The nonce extension (RFC 8954: 1 to 32 bytes), echoed in the answer.
    let nonce: Certificate.Extension?

    /// Parses `der`; nil when it is not a request Warden answers (the answer is then `malformedRequest`).
    public init?(der: [UInt8]) {
        guard der.count <= Self.maximumBytes, let parsed = try? Self.parse(der) else { return nil }
        (items, nonce) = parsed
    }

    private static func parse(_ der: [UInt8]) throws -> ([Item], Certificate.Extension?) {
        try DER.sequence(try DER.parse(der), identifier: .sequence) { request in
            guard let tbsNode = request.next() else { throw ASN1Error.invalidASN1Object(reason: "no tbsRequest") }
            let parsed = try DER.sequence(tbsNode, identifier: .sequence) { tbs in
                _ = try DER.optionalExplicitlyTagged(&tbs, tagNumber: 0, tagClass: .contextSpecific) {
                    // total: DER decoding throws for an integer that does not fit.
                    try Int(derEncoded: $0)
                }
                _ = try DER.optionalExplicitlyTagged(&tbs, tagNumber: 1, tagClass: .contextSpecific) { $0 }
                guard let listNode = tbs.next() else { throw ASN1Error.invalidASN1Object(reason: "no requestList") }
                let items = try DER.sequence(listNode, identifier: .sequence) { list in
                    var items: [Item] = []
                    while let single = list.next() {
                        guard items.count < maximumItems else {
                            throw ASN1Error.invalidASN1Object(reason: "too many requests")
                        }
                        items.append(try item(single))
                    }
                    return items
                }
                let extensions =
                    try DER.optionalExplicitlyTagged(&tbs, tagNumber: 2, tagClass: .contextSpecific) {
                        try DER.sequence(of: Certificate.Extension.self, identifier: .sequence, rootNode: $0)
                    } ?? []
                return (items, extensions)
            }
            // An optional signature ([0]) may follow; it is not needed to answer.
            _ = try DER.optionalExplicitlyTagged(&request, tagNumber: 0, tagClass: .contextSpecific) { $0 }
            guard !parsed.0.isEmpty else { throw ASN1Error.invalidASN1Object(reason: "empty requestList") }
            let nonce = parsed.1.first { $0.oid == PKIEncoding.ocspNonce }
            if let nonce, nonce.value.isEmpty || nonce.value.count > 34 {
                throw ASN1Error.invalidASN1Object(reason: "nonce length")
            }
            return (parsed.0, nonce)
        }
    }

    /// `Request ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL }`.
    private static func item(_ node: ASN1Node) throws -> Item {
        try DER.sequence(node, identifier: .sequence) { request in
            guard let certID = request.next() else { throw ASN1Error.invalidASN1Object(reason: "no CertID") }
            _ = try DER.optionalExplicitlyTagged(&request, tagNumber: 0, tagClass: .contextSpecific) { $0 }
            return try DER.sequence(certID, identifier: .sequence) { fields in
                guard let algorithm = fields.next() else { throw ASN1Error.invalidASN1Object(reason: "no algorithm") }
                let oid = try DER.sequence(algorithm, identifier: .sequence) { parameters in
                    let oid = try ASN1ObjectIdentifier(derEncoded: &parameters)
                    _ = parameters.next()  // NULL parameters, when present
                    return oid
                }
                let nameHash = try ASN1OctetString(derEncoded: &fields)
                let keyHash = try ASN1OctetString(derEncoded: &fields)
                let serial = try ArraySlice<UInt8>(derEncoded: &fields)
                return Item(
                    hashAlgorithm: oid, issuerNameHash: nameHash.bytes, issuerKeyHash: keyHash.bytes,
                    serial: PKIEncoding.serialText(serial), encoded: certID.encodedBytes)
            }
        }
    }
}

/// What an OCSP responder says about one certificate.
public enum OCSPCertificateStatus: Sendable, Hashable {
    case good
    case revoked(at: Date, reason: RevocationReason)
    /// Not a certificate the responder knows.
    case unknown
}

/// OCSP answers that carry no signed data (RFC 6960 §4.2.1): the request could not be read, or it asks a
/// responder that does not serve the CA.
public enum OCSPRefusal: Int, Sendable {
    case malformedRequest = 1
    case internalError = 2
    case unauthorized = 6

    /// `OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED }`.
    public var der: [UInt8] {
        var coder = DER.Serializer()
        try? coder.appendConstructedNode(identifier: .sequence) {
            try rawValue.serialize(into: &$0, withIdentifier: .enumerated)
        }
        return coder.serializedBytes
    }
}

extension IssuingAuthority {
    /// Whether `item` names this CA as the issuer (the hashes of its name and key, by SHA-1 or SHA-256).
    public func isIssuer(of item: OCSPQuery.Item) -> Bool {
        guard let (name, key) = hashes(item.hashAlgorithm) else { return false }
        return ConstantTime.equal(Array(item.issuerNameHash), name)
            && ConstantTime.equal(Array(item.issuerKeyHash), key)
    }

    /// A signed basic OCSP response for the items of `query` this CA issued, each with `status(serial)`; valid
    /// until `now + validity`. The responder is the CA itself, named by its key hash.
    public func answer(
        _ query: OCSPQuery, now: Date, validity: TimeInterval, status: (String) -> OCSPCertificateStatus
    ) throws(WardenError) -> [UInt8] {
        do {
            var data = DER.Serializer()
            try data.appendConstructedNode(identifier: .sequence) { response in
                try response.serialize(explicitlyTaggedWithTagNumber: 2, tagClass: .contextSpecific) {
                    try $0.serialize(ASN1OctetString(contentBytes: ArraySlice(Insecure.SHA1.hash(data: keyBits))))
                }
                try response.serialize(PKIEncoding.generalizedTime(now))
                try response.appendConstructedNode(identifier: .sequence) { responses in
                    for item in query.items where isIssuer(of: item) {
                        try Self.serialize(item, status(item.serial), now: now, validity: validity, into: &responses)
                    }
                }
                if let nonce = query.nonce {
                    try response.serialize(explicitlyTaggedWithTagNumber: 1, tagClass: .contextSpecific) {
                        try PKIEncoding.serialize([nonce], into: &$0)
                    }
                }
            }
            let basic = try signed(data.serializedBytes, certificates: [])
            var outer = DER.Serializer()
            try outer.appendConstructedNode(identifier: .sequence) { response in
                try 0.serialize(into: &response, withIdentifier: .enumerated)  // successful
                try response.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { tagged in
                    try tagged.appendConstructedNode(identifier: .sequence) { bytes in
                        try bytes.serialize(PKIEncoding.ocspBasic)
                        try bytes.serialize(ASN1OctetString(contentBytes: ArraySlice(basic)))
                    }
                }
            }
            return outer.serializedBytes
        } catch {
            throw WardenError(.internalError, "Could not sign the OCSP response: \(error).")
        }
    }

    /// `SingleResponse`: the CertID as asked, the status, this and next update.
    private static func serialize(
        _ item: OCSPQuery.Item, _ status: OCSPCertificateStatus, now: Date, validity: TimeInterval,
        into coder: inout DER.Serializer
    ) throws {
        try coder.appendConstructedNode(identifier: .sequence) { single in
            single.serializeRawBytes(item.encoded)
            switch status {
            case .good:
                single.appendPrimitiveNode(identifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)) {
                    _ in
                }
            case .revoked(let at, let reason):
                try single.appendConstructedNode(
                    identifier: ASN1Identifier(tagWithNumber: 1, tagClass: .contextSpecific)
                ) { info in
                    try info.serialize(PKIEncoding.generalizedTime(at))
                    try info.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) {
                        try reason.code.serialize(into: &$0, withIdentifier: .enumerated)
                    }
                }
            case .unknown:
                single.appendPrimitiveNode(identifier: ASN1Identifier(tagWithNumber: 2, tagClass: .contextSpecific)) {
                    _ in
                }
            }
            try single.serialize(PKIEncoding.generalizedTime(now))
            try single.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) {
                try $0.serialize(PKIEncoding.generalizedTime(now.addingTimeInterval(validity)))
            }
        }
    }

    /// The CA's public key bits, which `issuerKeyHash` and the responder id hash.
    private var keyBits: [UInt8] { Array(certificate.publicKey.subjectPublicKeyInfoBytes) }

    /// The CA's name and key hashed by `algorithm`, when it is one OCSP clients use.
    private func hashes(_ algorithm: ASN1ObjectIdentifier) -> ([UInt8], [UInt8])? {
        var coder = DER.Serializer()
        guard (try? coder.serialize(certificate.subject)) != nil else { return nil }
        let name = coder.serializedBytes
        switch algorithm {
        case PKIEncoding.sha1: return (Array(Insecure.SHA1.hash(data: name)), Array(Insecure.SHA1.hash(data: keyBits)))
        case PKIEncoding.sha256: return (Array(SHA256.hash(data: name)), Array(SHA256.hash(data: keyBits)))
        default: return nil
        }
    }
}
