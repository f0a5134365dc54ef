import Foundation
import Hummingbird

/// Builds JSON responses with stable key order and, where given, an ETag.
enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static func make(
        _ value: some Encodable, status: HTTPResponse.Status = .ok, etag: String? = nil, headers extra: HTTPFields = [:]
    ) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        headers.append(contentsOf: extra)
        if let etag { headers[.eTag] = "\"\(etag)\"" }
        return Response(
            status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// One JSON Lines line: the value and a newline.
    static func line(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    static func noContent() -> Response {
        Response(status: .noContent)
    }

    /// 202: the request is taken and carried out after the answer.
    static func accepted() -> Response {
        Response(status: .accepted)
    }
}
