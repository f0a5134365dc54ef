public import Foundation
import SwiftASN1
public import WardenCore
public import X509

/// A CRL from outside (a tenant uploaded it, or Warden fetched it from a CA's distribution point), read from
/// untrusted bytes and checked: RFC 5280 §5 v1 or v2, signed by the CA it is for, issued by that CA's name, no
/// critical extension Warden does not understand. Only what revocation needs is kept: the revoked serials and
/// the validity.
public struct ExternalRevocationList: Sendable, Hashable {
    /// A CRL larger than this, or listing more certificates, is refused before it costs more.
    public static let maximumBytes = 16 << 20
    public static let maximumEntries = 1_000_000

    /// Revoked serials, canonical upper-case hex.
    public let serials: Set<String>
    public let thisUpdate: Date
    public let nextUpdate: Date?
    /// The CRL number (hex), when it has one: a newer CRL never has a smaller one.
    public let number: String?

    /// Reads `bytes` (DER, or one PEM `X509 CRL` block) and checks it against `issuer`, the CA certificate.
    public init(bytes: [UInt8], issuer: Certificate) throws(WardenError) {
        guard bytes.count <= Self.maximumBytes else {
            throw WardenError(.caInvalidRevocationList, "The CRL is larger than \(Self.maximumBytes) bytes.")
        }
        let der = Self.der(bytes)
        do {
            self = try Self.parse(der, issuer: issuer)
        } catch let error as WardenError {
            throw error
        } catch {
            throw WardenError(.caInvalidRevocationList, "The CRL is not a DER or PEM certificate revocation list.")
        }
    }

    private init(serials: Set<String>, thisUpdate: Date, nextUpdate: Date?, number: String?) {
        self.serials = serials
        self.thisUpdate = thisUpdate
        self.nextUpdate = nextUpdate
        self.number = number
    }

    /// PEM's base64 body when `bytes` are a PEM block, else `bytes`.
    private static func der(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.starts(with: Array("-----BEGIN".utf8)),
            let document = try? PEMDocument(pemString: String(decoding: bytes, as: UTF8.self)),
            document.discriminator == "X509 CRL"
        else { return bytes }
        return document.derBytes
    }

    private static func parse(_ der: [UInt8], issuer: Certificate) throws -> ExternalRevocationList {
        let (tbs, outerAlgorithm, signature) = try DER.sequence(try DER.parse(der), identifier: .sequence) { nodes in
            guard let tbs = nodes.next(), let algorithm = nodes.next() else {
                throw ASN1Error.invalidASN1Object(reason: "CertificateList")
            }
            return (tbs, algorithm, try ASN1BitString(derEncoded: &nodes))
        }
        let algorithm = try signatureAlgorithm(outerAlgorithm)
        guard issuer.publicKey.isValidSignature(signature.bytes, for: tbs.encodedBytes, signatureAlgorithm: algorithm)
        else {
            throw WardenError(.caInvalidRevocationList, "The CRL is not signed by the CA's key.")
        }
        return try DER.sequence(tbs, identifier: .sequence) { nodes in
            var next = nodes.next()
            if next?.identifier == .integer { next = nodes.next() }  // version
            guard let inner = next, inner.encodedBytes == outerAlgorithm.encodedBytes, let name = nodes.next() else {
                throw WardenError(.caInvalidRevocationList, "The CRL's signature algorithms disagree.")
            }
            guard try DistinguishedName(derEncoded: name) == issuer.subject else {
                throw WardenError(.caInvalidRevocationList, "The CRL's issuer is not the CA's subject.")
            }
            guard let thisNode = nodes.next() else { throw ASN1Error.invalidASN1Object(reason: "thisUpdate") }
            let thisUpdate = try time(thisNode)
            var node = nodes.next()
            var nextUpdate: Date?
            if let candidate = node, candidate.identifier == .utcTime || candidate.identifier == .generalizedTime {
                nextUpdate = try time(candidate)
                node = nodes.next()
            }
            var serials: Set<String> = []
            if let list = node, list.identifier == .sequence {
                serials = try entries(list)
                node = nodes.next()
            }
            var number: String?
            if let tagged = node {
                guard tagged.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific),
                    case .constructed(let children) = tagged.content, let only = children.first(where: { _ in true })
                else { throw ASN1Error.invalidASN1Object(reason: "crlExtensions") }
                for item in try DER.sequence(of: Certificate.Extension.self, identifier: .sequence, rootNode: only) {
                    if item.oid == PKIEncoding.crlNumber {
                        number = PKIEncoding.serialText(try ArraySlice<UInt8>(derEncoded: item.value))
                    } else if item.critical, !understood.contains(item.oid) {
                        throw WardenError(
                            .caInvalidRevocationList,
                            "The CRL has a critical extension Warden does not read (\(item.oid)).")
                    }
                }
            }
            return ExternalRevocationList(
                serials: serials, thisUpdate: thisUpdate, nextUpdate: nextUpdate, number: number)
        }
    }

    /// Critical CRL extensions whose presence does not change what the list means for revocation: the
    /// issuing distribution point (a partitioned CRL still revokes what it lists) and the delta indicator's
    /// absence is required (a delta CRL is refused through the default branch).
    private static let understood: Set<ASN1ObjectIdentifier> = [[2, 5, 29, 28]]

    private static func entries(_ list: ASN1Node) throws -> Set<String> {
        try DER.sequence(list, identifier: .sequence) { items in
            var serials: Set<String> = []
            while let item = items.next() {
                guard serials.count < maximumEntries else {
                    throw WardenError(
                        .caInvalidRevocationList, "The CRL lists more than \(maximumEntries) certificates.")
                }
                let serial = try DER.sequence(item, identifier: .sequence) { fields in
                    let serial = try ArraySlice<UInt8>(derEncoded: &fields)
                    _ = fields.next()  // revocationDate
                    if let extensions = fields.next() {
                        for item in try DER.sequence(
                            of: Certificate.Extension.self, identifier: .sequence, rootNode: extensions)
                        where item.critical {
                            // A critical entry extension (certificateIssuer: an indirect CRL) changes whom the
                            // entry is about; Warden does not read indirect CRLs.
                            throw WardenError(
                                .caInvalidRevocationList, "A CRL entry has a critical extension (\(item.oid)).")
                        }
                    }
                    return serial
                }
                serials.insert(PKIEncoding.serialText(serial))
            }
            return serials
        }
    }

    private static func signatureAlgorithm(_ node: ASN1Node) throws -> Certificate.SignatureAlgorithm {
        let oid = try DER.sequence(node, identifier: .sequence) { fields in
            let oid = try ASN1ObjectIdentifier(derEncoded: &fields)
            _ = fields.next()
            return oid
        }
        let known: [ASN1ObjectIdentifier: Certificate.SignatureAlgorithm] = [
            [1, 2, 840, 10045, 4, 3, 2]: .ecdsaWithSHA256, [1, 2, 840, 10045, 4, 3, 3]: .ecdsaWithSHA384,
            [1, 2, 840, 10045, 4, 3, 4]: .ecdsaWithSHA512, [1, 2, 840, 113549, 1, 1, 11]: .sha256WithRSAEncryption,
            [1, 2, 840, 113549, 1, 1, 12]: .sha384WithRSAEncryption,
            [1, 2, 840, 113549, 1, 1, 13]: .sha512WithRSAEncryption, [1, 3, 101, 112]: .ed25519,
        ]
        guard let algorithm = known[oid] else {
            throw WardenError(
                .caInvalidRevocationList, "The CRL is signed with an algorithm Warden does not accept (\(oid)).")
        }
        return algorithm
    }

    private static func time(_ node: ASN1Node) throws -> Date {
        let parts: (Int, Int, Int, Int, Int, Int)
        switch node.identifier {
        case .utcTime:
            let time = try UTCTime(derEncoded: node)
            parts = (time.year, time.month, time.day, time.hours, time.minutes, time.seconds)
        case .generalizedTime:
            let time = try GeneralizedTime(derEncoded: node)
            parts = (time.year, time.month, time.day, time.hours, time.minutes, time.seconds)
        default:
            throw ASN1Error.unexpectedFieldType(node.identifier)
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .gmt
        let components = DateComponents(
            year: parts.0, month: parts.1, day: parts.2, hour: parts.3, minute: parts.4, second: parts.5)
        guard let date = calendar.date(from: components) else { throw ASN1Error.invalidASN1Object(reason: "time") }
        return date
    }
}
