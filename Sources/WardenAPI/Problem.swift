import Foundation
public import Hummingbird
public import WardenCore

/// An RFC 9457 problem body: what every error response of the API looks like.
public struct Problem: Codable, Sendable, Equatable {
    /// A URI naming the problem type: `urn:warden:error:{code}`.
    public var type: String
    /// A short summary that does not vary between occurrences.
    public var title: String
    /// The HTTP status.
    public var status: Int
    /// What went wrong this time, for people.
    public var detail: String
    /// The stable error code (docs/errors.md).
    public var code: String
    /// Quote this to an operator: it finds the log line.
    public var referenceID: String

    enum CodingKeys: String, CodingKey {
        case type, title, status, detail, code
        case referenceID = "referenceId"
    }

    /// The problem for a coded error.
    public init(_ error: WardenError, referenceID: String) {
        let status = Self.status(for: error.code.kind)
        self.type = "urn:warden:error:\(error.code.name)"
        self.title = status.reasonPhrase
        self.status = status.code
        self.detail = error.reason
        self.code = error.code.name
        self.referenceID = referenceID
    }

    /// The one mapping from error kind to HTTP status (STYLE R5.4).
    public static func status(for kind: WardenError.Kind) -> HTTPResponse.Status {
        switch kind {
        case .invalidInput: .badRequest
        case .unauthenticated: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .preconditionFailed: .preconditionFailed
        case .limitExceeded: .tooManyRequests
        case .tooLarge: .contentTooLarge
        case .unavailable: .serviceUnavailable
        case .timeout: .gatewayTimeout
        case .internal: .internalServerError
        }
    }

    func response(retryAfter: Int? = nil) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(self)) ?? Data()
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if let retryAfter { headers[.retryAfter] = "\(retryAfter)" }
        if status == 401 {
            headers[.wwwAuthenticate] = "Bearer realm=\"warden\""
        }
        return Response(
            status: .init(code: status, reasonPhrase: title), headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
