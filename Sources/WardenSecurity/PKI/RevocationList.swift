public import Foundation
import SwiftASN1
public import WardenCore
import X509

/// One revoked certificate, as a CRL or an OCSP answer states it.
public struct RevokedEntry: Sendable, Hashable {
    /// The serial, canonical upper-case hex.
    public let serial: String
    public let revokedAt: Date
    public let reason: RevocationReason

    public init(serial: String, revokedAt: Date, reason: RevocationReason) {
        self.serial = serial
        self.revokedAt = revokedAt
        self.reason = reason
    }
}

extension IssuingAuthority {
    /// The CA's certificate revocation list (RFC 5280 §5, v2, DER): `revoked` with their dates and reasons
    /// (no reason code for `unspecified`, as §5.3.1 asks), the CRL number, and the authority key identifier.
    public func revocationList(revoked: [RevokedEntry], number: UInt64, thisUpdate: Date, nextUpdate: Date)
        throws(WardenError) -> [UInt8]
    {
        do {
            var tbs = DER.Serializer()
            try tbs.appendConstructedNode(identifier: .sequence) { list in
                try list.serialize(1)  // v2
                try PKIEncoding.serializeSignatureAlgorithm(into: &list)
                try list.serialize(certificate.subject)
                try PKIEncoding.serializeTime(thisUpdate, into: &list)
                try PKIEncoding.serializeTime(nextUpdate, into: &list)
                if !revoked.isEmpty {
                    try list.appendConstructedNode(identifier: .sequence) { entries in
                        for entry in revoked {
                            try Self.serialize(entry, into: &entries)
                        }
                    }
                }
                try list.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { tagged in
                    try PKIEncoding.serialize(
                        [
                            try Certificate.Extension(
                                AuthorityKeyIdentifier(keyIdentifier: keyIdentifier), critical: false),
                            Certificate.Extension(
                                oid: PKIEncoding.crlNumber, critical: false,
                                value: try Self.integer(ArraySlice(withUnsafeBytes(of: number.bigEndian, Array.init)))),
                        ], into: &tagged)
                }
            }
            return try signed(tbs.serializedBytes)
        } catch {
            throw WardenError(.internalError, "Could not sign the CRL: \(error).")
        }
    }

    /// `bytes` followed by the signature algorithm and the CA's signature, in one SEQUENCE: the shape of a
    /// CRL and of a basic OCSP response.
    func signed(_ bytes: [UInt8], certificates: [Certificate] = []) throws -> [UInt8] {
        let signature = try signature(for: bytes)
        var outer = DER.Serializer()
        try outer.appendConstructedNode(identifier: .sequence) { coder in
            coder.serializeRawBytes(bytes)
            try PKIEncoding.serializeSignatureAlgorithm(into: &coder)
            try coder.serialize(ASN1BitString(bytes: ArraySlice(signature)))
            if !certificates.isEmpty {
                try coder.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) {
                    try $0.serializeSequenceOf(certificates)
                }
            }
        }
        return outer.serializedBytes
    }

    private static func serialize(_ entry: RevokedEntry, into coder: inout DER.Serializer) throws {
        guard let serial = PKIEncoding.serialBytes(entry.serial) else { return }
        try coder.appendConstructedNode(identifier: .sequence) { item in
            try item.serialize(serial)
            try PKIEncoding.serializeTime(entry.revokedAt, into: &item)
            if entry.reason != .unspecified {
                try item.appendConstructedNode(identifier: .sequence) { extensions in
                    try extensions.serialize(reasonExtension(entry.reason))
                }
            }
        }
    }

    /// The CRL entry extension `reasonCode` (an ENUMERATED).
    static func reasonExtension(_ reason: RevocationReason) throws -> Certificate.Extension {
        var coder = DER.Serializer()
        try reason.code.serialize(into: &coder, withIdentifier: .enumerated)
        return Certificate.Extension(
            oid: PKIEncoding.crlReason, critical: false, value: ArraySlice(coder.serializedBytes))
    }

    private static func integer(_ bytes: ArraySlice<UInt8>) throws -> ArraySlice<UInt8> {
        var coder = DER.Serializer()
        let magnitude = bytes.drop { $0 == 0 }
        try coder.serialize(magnitude.isEmpty ? [0] : magnitude)
        return ArraySlice(coder.serializedBytes)
    }
}
