import Foundation
import HTTPTypes
import Hummingbird
import WardenAccess
import WardenCore
import WardenSecurity

/// `/api/v1/auth/…`: sign-in and sign-out, the caller's own account, and the signing key.
struct AuthController {
    let access: AccessService

    var routes: [APIRoute] {
        [
            APIRoute(
                .post, "/api/v1/auth/signin", "signIn", "Sign in with a username and password (and TOTP code)",
                permission: nil, request: "SignIn", success: (200, "Token")
            ) { request, context in
                let body = try await request.decodeJSON(SignInRequest.self, context)
                context.audit.set {
                    $0.claimedActor = body.username
                    $0.claimedKind = .user
                }
                let grant = try await access.signIn(
                    username: body.username, password: SecretBytes(Array(body.password.utf8)), totp: body.totp,
                    from: context.peerAddress)
                return try JSONResponse.make(TokenResponse(grant), headers: Self.noStore)
            },
            APIRoute(
                .post, "/api/v1/auth/signout", "signOut", "End the session a refresh token belongs to",
                permission: nil, request: "SignOut", success: (204, nil)
            ) { request, context in
                let body = try await request.decodeJSON(SignOutRequest.self, context)
                try await access.signOut(refreshToken: body.refreshToken)
                return JSONResponse.noContent()
            },
            APIRoute(
                .get, "/api/v1/auth/me", "whoAmI", "Who the caller is and what roles it holds",
                permission: .ownAccount, success: (200, "Principal")
            ) { _, context in
                let principal = try context.requirePrincipal()
                return try JSONResponse.make(PrincipalResource(principal, user: access.user(id: principal.id)))
            },
            APIRoute(
                .post, "/api/v1/auth/password", "changePassword", "Change one's own password (ends other sessions)",
                permission: .ownAccount, request: "ChangePassword", success: (204, nil)
            ) { request, context in
                let body = try await request.decodeJSON(ChangePasswordRequest.self, context)
                try await access.changePassword(
                    userID: try context.requireUser(), current: SecretBytes(Array(body.currentPassword.utf8)),
                    new: SecretBytes(Array(body.newPassword.utf8)))
                return JSONResponse.noContent()
            },
            APIRoute(
                .post, "/api/v1/auth/totp", "enrollTOTP", "Start setting up a TOTP second factor",
                permission: .ownAccount, success: (200, "TOTPEnrollment")
            ) { _, context in
                let userID = try context.requireUser()
                let totp = try await access.enrollTOTP(userID: userID)
                let name = access.user(id: userID)?.username.rawValue ?? userID
                return try JSONResponse.make(
                    TOTPEnrollmentResource(
                        secret: totp.base32Secret, uri: totp.provisioningURI(account: name, issuer: "Warden")),
                    headers: Self.noStore)
            },
            APIRoute(
                .post, "/api/v1/auth/totp/confirm", "confirmTOTP", "Confirm the TOTP secret with a code",
                permission: .ownAccount, request: "TOTPCode", success: (204, nil)
            ) { request, context in
                let body = try await request.decodeJSON(TOTPCodeRequest.self, context)
                try await access.confirmTOTP(userID: try context.requireUser(), code: body.code)
                return JSONResponse.noContent()
            },
            APIRoute(
                .post, "/api/v1/auth/signing-keys", "rotateSigningKey",
                "Make a new access-token signing key (older tokens keep working until they expire)",
                permission: .platformManage, success: (201, "SigningKey")
            ) { _, context in
                let id = try await access.rotateSigningKey()
                context.auditDetail("kid", id)
                return try JSONResponse.make(["kid": id], status: .created)
            },
        ]
    }

    /// Token responses must not be cached (RFC 6749 §5.1).
    static let noStore: HTTPFields = {
        var fields: HTTPFields = [.cacheControl: "no-store"]
        if let pragma = HTTPField.Name("Pragma") { fields[pragma] = "no-cache" }
        return fields
    }()
}

extension APIRequestContext {
    /// The authenticated principal; every guarded route has one.
    func requirePrincipal() throws -> Principal {
        guard let principal else { throw WardenError(.authMissingCredential, "Send 'Authorization: Bearer <token>'.") }
        return principal
    }

    /// Who makes a change, as policy versions and issued certificates record it: `user:{name}`, `service:{name}`.
    func author() throws -> String {
        let principal = try requirePrincipal()
        return "\(principal.kind.rawValue):\(principal.name)"
    }

    /// The signed-in user's id; services and API keys have no password or second factor.
    func requireUser() throws -> String {
        let principal = try requirePrincipal()
        guard principal.kind == .user else {
            throw WardenError(.authForbidden, "Only a signed-in user has a password and a second factor.")
        }
        return principal.id
    }
}
