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
        return FormEncoding.fields(String(buffer: buffer))
    }
}
