import Foundation
import Hummingbird
import WardenAccess
import WardenCore

/// `/oauth/token` (RFC 6749 §3.2): the `client_credentials` grant for service principals and the
/// `refresh_token` grant. Form-encoded in, JSON out; errors in the RFC's own shape (§5.2), not problems,
/// so that any OAuth2 client library understands them.
struct OAuthController {
    let access: AccessService

    var routes: [APIRoute] {
        [
            APIRoute(
                .post, "/oauth/token", "oauthToken",
                "OAuth2 token endpoint: client_credentials and refresh_token grants (form-encoded)",
                permission: nil, request: "OAuthTokenForm", success: (200, "Token")
            ) { request, context in
                do {
                    let form = try await Self.form(request, context)
                    let grant: TokenGrant
                    switch form["grant_type"] {
                    case "client_credentials":
                        let (id, secret) = try Self.clientCredentials(request, form)
                        context.audit.set {
                            $0.claimedActor = id
                            $0.claimedKind = .service
                        }
                        grant = try await access.clientCredentials(
                            clientID: id, secret: secret, from: context.peerAddress)
                    case "refresh_token":
                        guard let token = form["refresh_token"], !token.isEmpty else {
                            throw OAuthError.invalidRequest("'refresh_token' is required.")
                        }
                        grant = try await access.refresh(token)
                        context.audit.set {
                            $0.claimedActor = grant.subjectName
                            $0.claimedKind = .user
                        }
                    case nil:
                        throw OAuthError.invalidRequest("'grant_type' is required.")
                    case let other?:
                        throw OAuthError(
                            status: .badRequest, error: "unsupported_grant_type",
                            description: "This server takes client_credentials and refresh_token, not '\(other)'.")
                    }
                    return try JSONResponse.make(TokenResponse(grant), headers: AuthController.noStore)
                } catch let error as OAuthError {
                    context.audit.set { $0.code = "oauth." + error.error }
                    return try error.response()
                } catch let error as WardenError where error.code == .authInvalidGrant {
                    context.audit.set { $0.code = error.code.name }
                    let isClient = error.reason.contains("client")
                    return try OAuthError(
                        status: isClient ? .unauthorized : .badRequest,
                        error: isClient ? "invalid_client" : "invalid_grant",
                        description: error.reason
                    ).response()
                }
            }
        ]
    }

    static func form(_ request: Request, _ context: APIRequestContext) async throws -> [String: String] {
        guard let fields = try await FormBody.fields(request, limit: context.maxUploadSize) else {
            throw OAuthError.invalidRequest("The body must be application/x-www-form-urlencoded, each field once.")
        }
        return fields
    }

    /// The client id and secret from HTTP Basic (preferred by RFC 6749 §2.3.1) or the form.
    static func clientCredentials(_ request: Request, _ form: [String: String]) throws -> (String, String) {
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("basic ") {
            guard let data = Data(base64Encoded: String(header.dropFirst(6))),
                let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
            else {
                throw OAuthError(
                    status: .unauthorized, error: "invalid_client", description: "Malformed Basic credentials.")
            }
            return (FormEncoding.decoded(text[..<colon]), FormEncoding.decoded(text[text.index(after: colon)...]))
        }
        guard let id = form["client_id"], let secret = form["client_secret"] else {
            throw OAuthError(
                status: .unauthorized, error: "invalid_client",
                description: "Send client_id and client_secret, in the form or as HTTP Basic.")
        }
        return (id, secret)
    }

}

/// An RFC 6749 §5.2 error response.
struct OAuthError: Error {
    let status: HTTPResponse.Status
    let error: String
    let description: String

    static func invalidRequest(_ description: String) -> OAuthError {
        OAuthError(status: .badRequest, error: "invalid_request", description: description)
    }

    func response() throws -> Response {
        var headers = AuthController.noStore
        if status == .unauthorized { headers[.wwwAuthenticate] = "Basic realm=\"warden\"" }
        return try JSONResponse.make(
            ["error": error, "error_description": description], status: status, headers: headers)
    }
}
