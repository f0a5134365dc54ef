import Foundation
import Hummingbird
import NIOCore
import WardenCore

/// Reading path parameters, query items, If-Match and JSON bodies, each failure a coded error.
extension Request {
    /// A percent-decoded path parameter.
    func parameter(_ name: String, _ context: APIRequestContext) throws -> String {
        guard let raw = context.parameters.get(name) else {
            throw WardenError(.routeNotFound, "The path lacks its '\(name)' part.")
        }
        return APIRoute.decoded(raw)
    }

    /// The `{tenant}` path parameter.
    func tenantID(_ context: APIRequestContext) throws -> TenantID {
        try TenantID(try parameter("tenant", context))
    }

    /// The `{device}` path parameter.
    func deviceID(_ context: APIRequestContext) throws -> DeviceID {
        try DeviceID(try parameter("device", context))
    }

    /// The body, at most `limit` bytes; beyond it `request.body_too_large` naming this route's limit (the
    /// middleware's fallback can only name the server-wide one).
    func collectBody(upTo limit: Int) async throws -> ByteBuffer {
        do {
            return try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw WardenError(.requestBodyTooLarge, "The request body is larger than \(limit) bytes.")
        }
    }

    /// `If-Match` without quotes or a weak prefix; nil when absent.
    var ifMatch: String? {
        guard var value = headers[.ifMatch]?.trimmingCharacters(in: .whitespaces) else { return nil }
        if value.hasPrefix("W/") { value.removeFirst(2) }
        if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
            value = String(value.dropFirst().dropLast())
        }
        return value
    }

    /// `limit` (1...1000, default 100) and `cursor` from the query.
    var pagination: (cursor: String?, limit: Int) {
        get throws {
            let query = uri.queryParameters
            var limit = 100
            if let text = query.get("limit") {
                // total: parses text: nil unless a number in range, then 1...1000.
                guard let parsed = Int(text), (1...1000).contains(parsed) else {
                    throw WardenError(.requestInvalidQuery, "'limit' must be a whole number from 1 to 1000.")
                }
                limit = parsed
            }
            return (try query.get("cursor").map(PageCursor.decode), limit)
        }
    }

    /// Whether JSON text holds `\u0000` as an escape (a backslash escaping the backslash before it does not count).
    static func escapesNull(_ bytes: some Collection<UInt8>) -> Bool {
        var backslashes = 0
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "u"), backslashes % 2 == 1,
                bytes[index...].dropFirst().prefix(4).elementsEqual("0000".utf8)
            {
                return true
            }
            backslashes = byte == UInt8(ascii: "\\") ? backslashes + 1 : 0
            index = bytes.index(after: index)
        }
        return false
    }

    /// Decodes a JSON object body into `T`, refusing unknown fields, malformed JSON, U+0000 and bodies over the
    /// limit.
    func decodeJSON<T: APIRequestBody>(_ type: T.Type, _ context: APIRequestContext) async throws -> T {
        let buffer = try await collectBody(upTo: context.maxUploadSize)
        try JSONStructure.check(buffer.readableBytesView, .requestBody)
        let data = Data(buffer.readableBytesView)
        // U+0000 has no place in any field Warden keeps, and PostgreSQL's text refuses it: say so here, once.
        if Self.escapesNull(buffer.readableBytesView) {
            throw WardenError(.requestInvalidField, "The body holds the character U+0000, which no field accepts.")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw WardenError(.requestMalformedJSON, "The body is not valid JSON.")
        }
        guard let fields = object as? [String: Any] else {
            throw WardenError(.requestMalformedJSON, "The body must be a JSON object.")
        }
        if let unknown = fields.keys.sorted().first(where: { !T.fields.contains($0) }) {
            throw WardenError(
                .requestInvalidField,
                "Unknown field '\(unknown)'; this body takes \(T.fields.sorted().joined(separator: ", ")).")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as WardenError {
            throw error
        } catch let error as DecodingError {
            throw Self.describe(error)
        }
    }

    private static func describe(_ error: DecodingError) -> WardenError {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let prefix = path(context)
            return WardenError(
                .requestInvalidField, "Field '\(prefix.isEmpty ? "" : prefix + ".")\(key.stringValue)' is required.")
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return WardenError(.requestInvalidField, "Field '\(path(context))' must be \(describe(type)).")
        case .dataCorrupted(let context):
            if let coded = context.underlyingError as? WardenError {
                return WardenError(coded.code, "Field '\(path(context))': \(coded.reason)")
            }
            return WardenError(
                .requestInvalidField, "Field '\(path(context))' is not valid: \(context.debugDescription)")
        @unknown default:
            return WardenError(.requestMalformedJSON, "The body could not be read.")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is UInt64.Type: "a whole number"
        case is Bool.Type: "true or false"
        case is [Any].Type: "an array"
        default: "an object of the documented shape"
        }
    }
}

/// A JSON request body: it names its fields so that unknown ones are refused rather than ignored.
protocol APIRequestBody: Decodable {
    static var fields: Set<String> { get }
}
