import HTTPTypes
public import Hummingbird

/// Tells browsers to use only HTTPS for this host for a year (RFC 6797): every answer of the HTTPS port
/// carries `Strict-Transport-Security`, errors included. The port serves only TLS, so the header is always
/// true; without `includeSubDomains`, since tenants' host names are sub-domains the hub may not serve. Every
/// answer also says not to guess content types (`X-Content-Type-Options: nosniff`) and to send no referrer;
/// the portal's pages add their own framing and content policy.
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
        if let name = HTTPField.Name("X-Content-Type-Options"), response.headers[name] == nil {
            response.headers[name] = "nosniff"
        }
        if let name = HTTPField.Name("Referrer-Policy"), response.headers[name] == nil {
            response.headers[name] = "no-referrer"
        }
        return response
    }
}
