/// A certificate thumbprint: the hex SHA-256 (or, for Azure compatibility, SHA-1) digest of its DER form.
///
/// Stored upper-case without separators; input may use either case and `:` separators.
public struct Thumbprint: ValidatedIdentifier {
    /// The digest a thumbprint was made with, told apart by length.
    public enum Algorithm: String, Sendable, Codable {
        case sha1
        case sha256
    }

    /// Upper-case hex digits.
    public let rawValue: String

    /// The digest algorithm, from the number of hex digits (40 or 64).
    public var algorithm: Algorithm { rawValue.count == 40 ? .sha1 : .sha256 }

    /// Validates and normalizes a hex thumbprint.
    public init(_ text: String) throws(WardenError) {
        let digits = text.filter { $0 != ":" }.uppercased()
        guard digits.count == 40 || digits.count == 64 else {
            throw WardenError(
                .thumbprintInvalid,
                "A thumbprint has 40 (SHA-1) or 64 (SHA-256) hex digits; this one has \(digits.count).")
        }
        guard digits.allSatisfy({ $0.isHexDigit && $0.isASCII }) else {
            throw WardenError(.thumbprintInvalid, "A thumbprint may contain only hex digits and ':'.")
        }
        self.rawValue = digits
    }
}
