/// `application/x-www-form-urlencoded` text (OAuth2 token requests, portal forms, HTTP Basic credentials).
public enum FormEncoding {
    /// The fields, each name once; nil when a name comes twice.
    public static func fields(_ text: some StringProtocol) -> [String: String]? {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decoded(parts[0])
            guard fields[name] == nil else { return nil }
            fields[name] = parts.count == 2 ? decoded(parts[1]) : ""
        }
        return fields
    }

    /// `+` as space, then percent-decoding; text with a broken escape stays as it came.
    public static func decoded(_ text: some StringProtocol) -> String {
        let spaced = String(text).replacing("+", with: " ")
        return PercentEncoding.decodeText(spaced) ?? String(text)
    }

    /// A field's name or value as a form writes it: space as `+`, every byte but the unreserved escaped.
    public static func encoded(_ text: some StringProtocol) -> String {
        PercentEncoding.encode(text, alsoKeeping: " ").replacing(" ", with: "+")
    }
}
