import Foundation
import Hummingbird
import WardenAPI
import WardenAccess
import WardenCore
import WardenHub
import WardenRegistry
import WardenSecurity

extension Pages {
    struct AccountPage {
        let csrf: String
        let mustChange: Bool
        let totpEnabled: Bool
        let pendingSecret: String?
        let pendingURI: String?
    }

    var accountRoutes: [PortalRoute] {
        [
            PortalRoute(.get, "/account", "account", permission: .ownAccount) { request, portal in
                try accountPage(request, portal, notice: nil)
            },
            PortalRoute(.post, "/account/password", "changePassword", permission: .ownAccount) { _, portal in
                let userID = try portal.requireUser()
                try await dependencies.access.changePassword(
                    userID: userID, current: SecretBytes(Array((portal.form["current"] ?? "").utf8)),
                    new: SecretBytes(Array((portal.form["new"] ?? "").utf8)))
                // Every session of the user ended, this one too: sign in again with the new password.
                var response = Response.redirect("/signin")
                response.apply(PortalSession.cleared())
                return response
            },
            PortalRoute(.post, "/account/totp", "enrollTOTP", permission: .ownAccount) { request, portal in
                _ = try await dependencies.access.enrollTOTP(userID: try portal.requireUser())
                return try accountPage(request, portal, notice: nil)
            },
            PortalRoute(.post, "/account/totp/confirm", "confirmTOTP", permission: .ownAccount) { request, portal in
                try await dependencies.access.confirmTOTP(userID: try portal.requireUser(), code: portal.field("code"))
                return try accountPage(request, portal, notice: "The second factor is on.")
            },
        ]
    }

    private func accountPage(_ request: Request, _ portal: PortalRequest, notice: String?) throws -> Response {
        let user = dependencies.access.user(id: try portal.requireUser())
        let pending = user?.pendingTOTPSecret.map { TOTP(secret: $0) }
        let page = AccountPage(
            csrf: portal.session.csrf, mustChange: user?.mustChangePassword ?? false,
            totpEnabled: user?.totpSecret != nil, pendingSecret: pending?.base32Secret,
            pendingURI: pending.map { $0.provisioningURI(account: user?.username.rawValue ?? "", issuer: "Warden") })
        return self.page("account", page, title: "Account", request, portal, notice: notice)
    }
}

extension PortalRequest {
    /// The signed-in user's id (service principals and keys have no account page).
    func requireUser() throws -> String {
        guard principal.kind == .user, !principal.id.isEmpty else {
            throw WardenError(.authForbidden, "Only a signed-in user has an account page.")
        }
        return principal.id
    }
}
