import Foundation
public import Hummingbird
import WardenCore

/// An `application/x-www-form-urlencoded` body (OAuth2 token requests, portal forms): each name once.
public enum FormBody {
    /// The fields, or nil when the body is not a form or names a field twice.
    public static func fields(_ request: Request, limit: Int) async throws -> [String: String]? {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            return nil
        }
        let buffer = try await request.collectBody(upTo: limit)
        var fields: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decoded(parts[0])
            guard fields[name] == nil else { return nil }
            fields[name] = parts.count == 2 ? decoded(parts[1]) : ""
        }
        return fields
    }

    /// `+` as space, then percent-decoding.
    public static func decoded(_ text: some StringProtocol) -> String {
        PercentEncoding.decodeText(String(text).replacingOccurrences(of: "+", with: " ")) ?? String(text)
    }
}
