import Foundation
import SwiftASN1
import WardenCore
import X509

/// The few DER pieces CRLs and OCSP answers need that swift-certificates keeps internal: object identifiers,
/// times, serial numbers and algorithm identifiers.
enum PKIEncoding {
    static let sha1: ASN1ObjectIdentifier = [1, 3, 14, 3, 2, 26]
    static let sha256: ASN1ObjectIdentifier = [2, 16, 840, 1, 101, 3, 4, 2, 1]
    static let ecdsaWithSHA256: ASN1ObjectIdentifier = [1, 2, 840, 10045, 4, 3, 2]
    static let crlDistributionPoints: ASN1ObjectIdentifier = [2, 5, 29, 31]
    static let crlNumber: ASN1ObjectIdentifier = [2, 5, 29, 20]
    static let crlReason: ASN1ObjectIdentifier = [2, 5, 29, 21]
    static let authorityKeyIdentifier: ASN1ObjectIdentifier = [2, 5, 29, 35]
    static let ocspBasic: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 48, 1, 1]
    static let ocspNonce: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 48, 1, 2]

    /// `AlgorithmIdentifier` for ECDSA with SHA-256 (RFC 5758: no parameters).
    static func serializeSignatureAlgorithm(into coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { try $0.serialize(ecdsaWithSHA256) }
    }

    /// RFC 5280 `Time`: UTCTime through 2049, GeneralizedTime from 2050.
    static func serializeTime(_ date: Date, into coder: inout DER.Serializer) throws {
        let parts = components(date)
        if parts.year < 2050 {
            try coder.serialize(
                UTCTime(
                    year: parts.year, month: parts.month, day: parts.day, hours: parts.hour, minutes: parts.minute,
                    seconds: parts.second))
        } else {
            try coder.serialize(generalizedTime(date))
        }
    }

    /// A whole-second GeneralizedTime, as OCSP and DER require.
    static func generalizedTime(_ date: Date) throws -> GeneralizedTime {
        let parts = components(date)
        return try GeneralizedTime(
            year: parts.year, month: parts.month, day: parts.day, hours: parts.hour, minutes: parts.minute,
            seconds: parts.second, fractionalSeconds: 0)
    }

    private static func components(_ date: Date) -> (
        year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int
    ) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .gmt
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return (
            parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0
        )
    }

    /// A serial number's canonical text: upper-case hex of its magnitude, no leading zero bytes.
    static func serialText(_ bytes: some Collection<UInt8>) -> String {
        let magnitude = bytes.drop { $0 == 0 }
        return magnitude.isEmpty ? "00" : Hex.encode(magnitude, uppercase: true)
    }

    /// The bytes of a serial's canonical text; nil when it is not hex.
    static func serialBytes(_ text: String) -> ArraySlice<UInt8>? {
        Hex.decode(text).map { ArraySlice($0.drop { $0 == 0 }) }
    }

    /// `Certificate.Extension` bytes: the extension's DER.
    static func serialize(_ extensions: [Certificate.Extension], into coder: inout DER.Serializer) throws {
        try coder.serializeSequenceOf(extensions)
    }
}
