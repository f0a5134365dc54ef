/// What an identifier may contain: ASCII letters (or only lower-case ones), digits and some punctuation, up to a
/// length. One value per identifier type both validates and describes it (the OpenAPI document's patterns), so
/// the two cannot drift apart.
public struct IdentifierRules: Sendable {
    /// What the identifier is called in errors ("device id").
    let what: String
    public let maximumLength: Int
    let punctuation: Set<UInt8>
    let allowsUppercase: Bool
    /// Whether the first and last characters must be letters or digits (DNS labels).
    let edgesAreAlphanumeric: Bool
    let code: WardenError.Code

    init(
        _ what: String, maximumLength: Int, punctuation: String, allowsUppercase: Bool = true,
        edgesAreAlphanumeric: Bool = false, code: WardenError.Code
    ) {
        self.what = what
        self.maximumLength = maximumLength
        self.punctuation = Set(punctuation.utf8)
        self.allowsUppercase = allowsUppercase
        self.edgesAreAlphanumeric = edgesAreAlphanumeric
        self.code = code
    }

    /// `value` when it follows the rules; otherwise an error naming the first thing that breaks them.
    func validate(_ value: String) throws(WardenError) -> String {
        if value.isEmpty {
            throw WardenError(code, "The \(what) is empty.")
        }
        let count = value.unicodeScalars.count
        if count > maximumLength {
            throw WardenError(code, "The \(what) has \(count) characters; at most \(maximumLength) are allowed.")
        }
        for (offset, scalar) in value.unicodeScalars.enumerated() {
            // total: an ASCII scalar, checked just before.
            guard scalar.isASCII, isAllowed(UInt8(scalar.value)) else {
                let shown =
                    scalar.properties.isWhitespace || scalar.value < 0x20
                    ? "U+\(String(scalar.value, radix: 16, uppercase: true))"
                    : "'\(Character(scalar))'"
                throw WardenError(
                    code,
                    "The \(what) contains \(shown) at position \(offset + 1), which is not allowed; "
                        + "use \(allowedDescription).")
            }
        }
        if edgesAreAlphanumeric,
            let edge = [value.utf8.first, value.utf8.last].compactMap({ $0 }).first(where: punctuation.contains)
        {
            throw WardenError(code, "The \(what) must not start or end with '\(Character(Unicode.Scalar(edge)))'.")
        }
        return value
    }

    /// An ECMA-262 regular expression (JSON Schema's dialect) that matches exactly what `validate` accepts.
    public var pattern: String {
        let letters = allowsUppercase ? "A-Za-z0-9" : "a-z0-9"
        // Syntax characters and `-` are escaped; escaping any other mark is an error in Unicode-mode patterns.
        let marks = String(decoding: punctuation.sorted(), as: UTF8.self).map { mark in
            "^$\\.*+?()[]{}|-".contains(mark) ? "\\\(mark)" : "\(mark)"
        }.joined()
        guard edgesAreAlphanumeric else { return "^[\(letters)\(marks)]{1,\(maximumLength)}$" }
        return "^[\(letters)]([\(letters)\(marks)]{0,\(maximumLength - 2)}[\(letters)])?$"
    }

    private func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): allowsUppercase
        default: punctuation.contains(byte)
        }
    }

    private var allowedDescription: String {
        let letters = allowsUppercase ? "ASCII letters" : "lower-case ASCII letters"
        let marks = String(decoding: punctuation.sorted(), as: UTF8.self).map { String($0) }.joined(separator: " ")
        return "\(letters), digits and \(marks)"
    }
}
