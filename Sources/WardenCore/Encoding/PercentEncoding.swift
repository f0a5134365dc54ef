/// Percent-encoding (RFC 3986 §2.1): the one decoder and encoder behind SAS tokens, Azure property bags, API
/// and portal path segments and form bodies, so that every entry point reads an escape the same way.
public enum PercentEncoding {
    /// What decoding found.
    public enum Decoded: Sendable, Equatable {
        case bytes([UInt8])
        /// A `%` without two hex digits after it, at this offset from the start.
        case badEscape(at: Int)
    }

    /// `bytes` with each `%XX` (hex, either case) decoded; `+` stays `+`.
    public static func decode(_ bytes: some Collection<UInt8>) -> Decoded {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var offset = 0
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            defer { offset += 1 }
            guard byte == UInt8(ascii: "%") else {
                decoded.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(Hex.value), let low = iterator.next().flatMap(Hex.value) else {
                return .badEscape(at: offset)
            }
            decoded.append(high << 4 | low)
            offset += 2
        }
        return .bytes(decoded)
    }

    /// `text` decoded, when every escape is whole and the result is UTF-8; nil otherwise.
    public static func decodeText(_ text: some StringProtocol) -> String? {
        guard case .bytes(let bytes) = decode(text.utf8) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// A URL path segment decoded; a malformed one is left as it came (its validation then names it).
    public static func decodePathSegment(_ text: String) -> String {
        decodeText(text) ?? text
    }

    /// `text` with every byte escaped (upper-case hex) but RFC 3986 unreserved characters (letters, digits,
    /// `-._~`) and those in `alsoKeeping`.
    public static func encode(_ text: some StringProtocol, alsoKeeping kept: String = "") -> String {
        let kept = Set(kept.utf8)
        var encoded: [UInt8] = []
        encoded.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) || kept.contains(byte) {
                encoded.append(byte)
            } else {
                let (high, low) = Hex.digits(of: byte, uppercase: true)
                encoded.append(UInt8(ascii: "%"))
                encoded.append(high)
                encoded.append(low)
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}
