/// The shared check behind every validated identifier: length, then an allowed character set.
enum IdentifierRules {
    static func validate(
        _ value: String, what: String, maximumLength: Int, allowedPunctuation: Set<UInt8>,
        allowsUppercase: Bool = true, code: WardenError.Code
    ) throws(WardenError) -> String {
        if value.isEmpty {
            throw WardenError(code, "The \(what) is empty.")
        }
        let count = value.unicodeScalars.count
        if count > maximumLength {
            throw WardenError(code, "The \(what) has \(count) characters; at most \(maximumLength) are allowed.")
        }
        for (offset, scalar) in value.unicodeScalars.enumerated() {
            // total: an ASCII scalar, checked just before.
            guard scalar.isASCII, isAllowed(UInt8(scalar.value), allowedPunctuation, allowsUppercase) else {
                let shown =
                    scalar.properties.isWhitespace || scalar.value < 0x20
                    ? "U+\(String(scalar.value, radix: 16, uppercase: true))"
                    : "'\(Character(scalar))'"
                throw WardenError(
                    code,
                    "The \(what) contains \(shown) at position \(offset + 1), which is not allowed; "
                        + "use \(allowedDescription(allowedPunctuation, allowsUppercase)).")
            }
        }
        return value
    }

    private static func isAllowed(_ byte: UInt8, _ punctuation: Set<UInt8>, _ allowsUppercase: Bool) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): allowsUppercase
        default: punctuation.contains(byte)
        }
    }

    private static func allowedDescription(_ punctuation: Set<UInt8>, _ allowsUppercase: Bool) -> String {
        let letters = allowsUppercase ? "ASCII letters" : "lower-case ASCII letters"
        let marks = String(decoding: punctuation.sorted(), as: UTF8.self).map { String($0) }.joined(separator: " ")
        return "\(letters), digits and \(marks)"
    }
}
