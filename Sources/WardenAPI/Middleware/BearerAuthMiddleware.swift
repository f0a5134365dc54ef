import Foundation
public import Hummingbird
import WardenCore

/// Requires `Authorization: Bearer …` on every route except the public ones, and records the principal.
public struct BearerAuthMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext
    let authenticator: any ManagementAuthenticator
    let publicPaths: Set<String>
    let publicPrefixes: [String]
    /// Public route templates that start with a parameter (DPS's `/{idScope}/registrations/…`): matched segment
    /// by segment, a nil segment standing for a parameter, since their prefix would be every path.
    let publicTemplates: [[Substring?]]
    /// The portal's session cookie (the access token, HttpOnly, Secure, SameSite=Strict).
    public static let sessionCookie = "warden_session"

    /// Guards every path but `publicPaths` (exact matches) and those under `publicPrefixes` (the HTTPS device
    /// API, whose routes authenticate the device themselves).
    public init(
        authenticator: any ManagementAuthenticator, publicPaths: Set<String>, publicPrefixes: [String] = [],
        publicTemplates: [String] = []
    ) {
        self.authenticator = authenticator
        self.publicPaths = publicPaths
        self.publicPrefixes = publicPrefixes
        self.publicTemplates = publicTemplates.map { template in
            template.split(separator: "/").map { $0.hasPrefix("{") ? nil : $0 }
        }
    }

    /// Whether `path` is an instance of one of the public templates.
    private func matchesTemplate(_ path: String) -> Bool {
        let segments = path.split(separator: "/")
        return publicTemplates.contains { template in
            template.count == segments.count
                && zip(template, segments).allSatisfy { literal, segment in literal.map { $0 == segment } ?? true }
        }
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        if publicPaths.contains(path) || publicPrefixes.contains(where: path.hasPrefix) || matchesTemplate(path) {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization] else {
            let isRead = request.method == .get || request.method == .head
            // A signed-in browser reads the API with its portal session (SameSite=Strict: never cross-site).
            if isRead, let session = request.cookies[Self.sessionCookie]?.value,
                let principal = await authenticator.principal(forBearer: Substring(session))
            {
                var context = context
                context.principal = principal
                return try await next(request, context)
            }
            // A browser without a session is sent to sign in, and back here afterwards.
            if isRead, request.headers[.accept]?.contains("text/html") == true {
                let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
                return Response(
                    status: .seeOther,
                    headers: [
                        .location: "/signin?next="
                            + (next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/")
                    ])
            }
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
