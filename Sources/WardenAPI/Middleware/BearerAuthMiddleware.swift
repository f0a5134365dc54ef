public import Hummingbird
import WardenCore

/// Requires `Authorization: Bearer …` on every route except the public ones, and records the principal.
public struct BearerAuthMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext
    let authenticator: any ManagementAuthenticator
    let publicPaths: Set<String>
    let publicPrefixes: [String]

    /// Guards every path but `publicPaths` (exact matches) and those under `publicPrefixes` (the HTTPS device
    /// API, whose routes authenticate the device themselves).
    public init(authenticator: any ManagementAuthenticator, publicPaths: Set<String>, publicPrefixes: [String] = []) {
        self.authenticator = authenticator
        self.publicPaths = publicPaths
        self.publicPrefixes = publicPrefixes
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        if publicPaths.contains(path) || publicPrefixes.contains(where: path.hasPrefix) {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization] else {
            throw WardenError(.authMissingCredential, "Send 'Authorization: Bearer <token>'.")
        }
        let prefix = "bearer "
        guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix else {
            throw WardenError(.authInvalidCredential, "The Authorization header must use the Bearer scheme.")
        }
        let credential = header.dropFirst(prefix.count).drop { $0 == " " }
        guard let principal = await authenticator.principal(forBearer: credential) else {
            throw WardenError(.authInvalidCredential, "The bearer credential is not valid.")
        }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }
}
