import Foundation

/// CSV fields (RFC 4180), the one quoting of the API's, the CLI's and the portal's exports.
public enum CSV {
    /// `text` quoted when it holds a comma, a semicolon, a quote or a line break. With `guardingFormulas`, a value a
    /// spreadsheet would run (`=…`, `+…`, `-…`, `@…`, a leading tab or carriage return) is made text by a leading
    /// quote: for reports people open, whose values devices choose (not for data exports, where `-5` is a number).
    public static func field(_ text: String, guardingFormulas: Bool = false) -> String {
        var text = text
        // A spreadsheet set to `;` splits there, so a part after one may run as a formula too.
        if guardingFormulas,
            text.split(separator: ";", omittingEmptySubsequences: false).contains(where: { part in
                part.first.map { "=+-@\t\r".contains($0) } ?? false
            })
        {
            text = "'" + text
        }
        guard text.contains(where: { $0 == "," || $0 == ";" || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else {
            return text
        }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One line of fields, without its line break.
    public static func line(_ fields: [String], guardingFormulas: Bool = false) -> String {
        fields.map { field($0, guardingFormulas: guardingFormulas) }.joined(separator: ",")
    }
}
