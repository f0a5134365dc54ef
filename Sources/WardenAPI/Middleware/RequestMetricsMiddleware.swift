public import Hummingbird
import Metrics
import WardenCore

/// Counts requests and times them, labelled by route template (never the raw path) and status.
///
/// Metrics: `warden_api_requests_total{method,route,status}`, `warden_api_request_duration_seconds{method,route}`.
public struct RequestMetricsMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    /// Makes the middleware.
    public init() {}

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        let method = request.method.rawValue
        Counter(
            label: "warden_api_requests_total",
            dimensions: [("method", method), ("route", route), ("status", String(response.status.code))]
        ).increment()
        Timer(label: "warden_api_request_duration_seconds", dimensions: [("method", method), ("route", route)])
            .record(duration: ContinuousClock.now - start)
        return response
    }
}
