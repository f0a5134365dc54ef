import Foundation
import Hummingbird
import WardenAPI
import WardenAccess
import WardenCore
import WardenHub
import WardenRegistry
import WardenSecurity

extension Pages {
    struct SignInPage {
        let csrf: String
        let next: String
        let username: String
        let askTOTP: Bool
    }

    var signInRoutes: [PortalRoute] {
        [
            PortalRoute(.get, "/signin", "signInPage", permission: nil) { request, portal in
                let next = Self.safeNext(request.uri.queryParameters.get("next").map { String($0) })
                // Already signed in (or renewed from the refresh cookie): straight on.
                if portal.session.principal != nil { return .redirect(next) }
                return signInForm(request, portal, next: next, username: "", askTOTP: false, error: nil)
            },
            PortalRoute(.post, "/signin", "signIn", permission: nil) { request, portal in
                let next = Self.safeNext(portal.form["next"])
                let username = portal.field("username")
                portal.context.audit.set {
                    $0.claimedActor = username
                    $0.claimedKind = .user
                }
                let totp = portal.field("totp")
                do {
                    let grant = try await dependencies.access.signIn(
                        username: username, password: SecretBytes(Array((portal.form["password"] ?? "").utf8)),
                        totp: totp.isEmpty ? nil : totp, from: portal.context.peerAddress)
                    var response = Response.redirect(grant.mustChangePassword ? "/account" : next)
                    response.apply(PortalSession.signedIn(grant, refreshLifetime: dependencies.refreshLifetime))
                    // A new CSRF token for the new session (no token chosen before sign-in survives it).
                    response.apply([
                        PortalSession.cookie(PortalSession.csrfCookie, PortalSession.newCSRF(), maxAge: nil)
                    ])
                    return response
                } catch let error as WardenError where error.code == .authTOTPRequired {
                    return signInForm(request, portal, next: next, username: username, askTOTP: true, error: nil)
                } catch let error as WardenError
                    where error.code.kind == .unauthenticated || error.code == .authLockedOut
                {
                    portal.context.audit.set { $0.code = error.code.name }
                    var response = signInForm(
                        request, portal, next: next, username: username, askTOTP: !totp.isEmpty,
                        error: error.code == .authLockedOut
                            ? "Too many failed attempts: try again in \(error.retryAfter ?? 60) seconds."
                            : "The username, password or code is not right.")
                    response.status = error.code == .authLockedOut ? .tooManyRequests : .unauthorized
                    return response
                }
            },
            PortalRoute(.post, "/signout", "signOut", permission: .ownAccount) { request, portal in
                if let refresh = request.cookies[PortalSession.refreshCookie]?.value {
                    try await dependencies.access.signOut(refreshToken: refresh)
                }
                var response = Response.redirect("/signin")
                response.apply(PortalSession.cleared())
                return response
            },
        ]
    }

    private func signInForm(
        _ request: Request, _ portal: PortalRequest, next: String, username: String, askTOTP: Bool, error: String?
    ) -> Response {
        var frame = Self.frame(PortalSession(principal: nil, csrf: portal.session.csrf), path: "/signin")
        frame.error = error
        return renderer.render(
            "signin", SignInPage(csrf: portal.session.csrf, next: next, username: username, askTOTP: askTOTP),
            title: "Sign in", frame: frame)
    }

    /// Only a path on this site: never `//host` or a full URL (no open redirect).
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\"), !next.hasPrefix("/signin")
        else { return "/" }
        return next
    }
}
