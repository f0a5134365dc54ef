import Foundation

extension JSONValue {
    /// Parses a document from outside after `JSONStructure` has checked it against `limits`, so the
    /// recursive decoder (and every recursive function on the value later) meets bounded depth.
    /// Throws `json.too_complex`, or `request.malformed_json` when the bytes are not JSON.
    public static func parse(_ bytes: some Collection<UInt8>, limits: JSONLimits) throws(WardenError) -> JSONValue {
        try JSONStructure.check(bytes, limits)
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw WardenError(.requestMalformedJSON, "The document is not valid JSON.")
        }
    }
}
