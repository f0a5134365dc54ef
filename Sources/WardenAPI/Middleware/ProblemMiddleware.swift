import Foundation
public import Hummingbird
public import Logging
import NIOCore
import WardenCore

/// Turns every error into an RFC 9457 problem response, in one place (STYLE R5.4).
///
/// Coded errors keep their code and reason; Hummingbird's own errors (no route, body too large) get ours;
/// anything else is a 500 whose detail stays in the log, found by the reference id.
public struct ProblemMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext
    let logger: Logger

    /// Logs unexpected errors to `logger`.
    public init(logger: Logger) {
        self.logger = logger
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let referenceID = UUID().uuidString.lowercased()
            let coded = Self.coded(error)
            var metadata: Logger.Metadata = [
                "request.id": "\(referenceID)", "error.code": "\(coded.code.name)",
                "http.method": "\(request.method.rawValue)", "http.route": "\(context.endpointPath ?? "-")",
            ]
            if coded.code.kind == .internal || coded.code.kind == .unavailable {
                metadata["error.detail"] = "\(error)"
                logger.error("Request failed unexpectedly.", metadata: metadata)
            } else {
                logger.debug("Request refused.", metadata: metadata)
            }
            context.audit.set {
                $0.code = coded.code.name
                $0.referenceID = referenceID
            }
            return Problem(coded, referenceID: referenceID).response(retryAfter: coded.retryAfter)
        }
    }

    private static var bodyTooLarge: WardenError {
        WardenError(
            .requestBodyTooLarge, "The request body is larger than \(APIRequestContext.maximumBodyBytes) bytes.")
    }

    static func coded(_ error: any Error) -> WardenError {
        switch error {
        case let error as WardenError:
            return error
        case let error as HTTPError where error.status == .notFound:
            return WardenError(.routeNotFound, "There is no such route; see /api/v1/openapi.json.")
        case is NIOTooManyBytesError:
            return bodyTooLarge
        case let error as HTTPError where error.status == .contentTooLarge:
            return bodyTooLarge
        case let error as HTTPError where error.status == .methodNotAllowed:
            return WardenError(.methodNotAllowed, "This route does not take that method.")
        case let error as HTTPError where error.status.code < 500:
            return WardenError(.requestInvalidField, error.body ?? "The request is not valid.")
        default:
            return WardenError(.internalError, "Something went wrong on our side; quote the reference id.")
        }
    }
}
