import Foundation

/// Cursors are the last key of a page, base64url-encoded so that clients treat them as opaque.
public enum PageCursor {
    public static func encode(_ key: String?) -> String? {
        key.map {
            Data($0.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
    }

    /// The key a cursor names; a cursor this API did not issue is `request.invalid_cursor`.
    public static func decode(_ cursor: String) throws -> String {
        var text = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        // total: the count is 0...3.
        text += String(repeating: "=", count: (4 - text.count % 4) % 4)
        guard let data = Data(base64Encoded: text), let key = String(data: data, encoding: .utf8) else {
            throw WardenError(.requestInvalidCursor, "The cursor is not one this API issued.")
        }
        return key
    }
}
