public import Hummingbird

/// Tells browsers to use only HTTPS for this host for a year (RFC 6797): every answer of the HTTPS port
/// carries `Strict-Transport-Security`, errors included. The port serves only TLS, so the header is always
/// true; without `includeSubDomains`, since tenants' host names are sub-domains the hub may not serve.
public struct TransportSecurityMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    static let value = "max-age=31536000"

    /// Makes the middleware.
    public init() {}

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.strictTransportSecurity] = Self.value
        return response
    }
}
