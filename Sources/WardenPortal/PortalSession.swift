import Foundation
import Hummingbird
import WardenAPI
import WardenAccess
import WardenCore
import WardenSecurity

/// The browser's session: the access token, the refresh token that renews it, and the CSRF token, each in
/// its own cookie (HttpOnly, Secure, SameSite=Strict, Path=/).
struct PortalSession: Sendable {
    static let accessCookie = BearerAuthMiddleware.sessionCookie
    static let refreshCookie = "warden_refresh"
    static let csrfCookie = "warden_csrf"

    /// Who is signed in (nil: nobody).
    var principal: Principal?
    /// The CSRF token forms must carry (the cookie's, or a new one set with the response).
    var csrf: String
    /// Cookies to set on the response (a renewed session, a new CSRF token, or clearing them).
    var cookies: [Cookie] = []

    /// Reads the session, renewing an expired access token with the refresh cookie.
    static func resolve(_ request: Request, access: AccessService, refreshLifetime: TimeInterval) async -> PortalSession
    {
        var session = PortalSession(principal: nil, csrf: request.cookies[csrfCookie]?.value ?? "")
        if session.csrf.isEmpty {
            session.csrf = newCSRF()
            session.cookies.append(cookie(csrfCookie, session.csrf, maxAge: nil))
        }
        if let token = request.cookies[accessCookie]?.value,
            let principal = await access.principal(forBearer: Substring(token))
        {
            session.principal = principal
            return session
        }
        guard let refresh = request.cookies[refreshCookie]?.value, !refresh.isEmpty else { return session }
        guard let grant = try? await access.refresh(refresh) else {
            session.cookies += cleared()
            return session
        }
        session.principal = await access.principal(forBearer: Substring(grant.accessToken))
        session.cookies += signedIn(grant, refreshLifetime: refreshLifetime)
        return session
    }

    /// The cookies of a new session.
    static func signedIn(_ grant: TokenGrant, refreshLifetime: TimeInterval) -> [Cookie] {
        // total: a configured lifetime, at most 31,536,000 seconds.
        [
            cookie(accessCookie, grant.accessToken, maxAge: grant.expiresIn),
            cookie(refreshCookie, grant.refreshToken ?? "", maxAge: Int(refreshLifetime)),
        ]
    }

    /// Cookies that end the session (empty, expired).
    static func cleared() -> [Cookie] {
        [cookie(accessCookie, "", maxAge: 0), cookie(refreshCookie, "", maxAge: 0)]
    }

    static func cookie(_ name: String, _ value: String, maxAge: Int?) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: true, httpOnly: true, sameSite: .strict)
    }

    static func newCSRF() -> String {
        Data(SecretBytes.random(count: 32).bytes).base64URL
    }

    /// Whether a form's `_csrf` equals the session's token, compared in constant time.
    func acceptsCSRF(_ presented: String?) -> Bool {
        guard let presented, !csrf.isEmpty else { return false }
        return ConstantTime.equal(Array(presented.utf8), Array(csrf.utf8))
    }
}

extension Response {
    /// Sets every cookie of `session` on the response.
    mutating func apply(_ cookies: [Cookie]) {
        for cookie in cookies { setCookie(cookie) }
    }

    /// 303 to `location`.
    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }
}
