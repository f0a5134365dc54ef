import Foundation
import WardenCore

/// Rows of the access tables (users, service principals, role bindings, API keys, refresh tokens, signing keys) as
/// domain values, for both engines, and the contexts their sealed columns are bound to.
enum AccessRows {
    /// What a user's sealed second-factor secret (`column`: `totp`, `pending-totp`) is bound to.
    static func userSecretContext(_ id: String, _ column: String) -> String { "users/\(id)/\(column)" }

    /// What an access-token signing key is bound to.
    static func signingKeyContext(_ id: String) -> String { "access_token_keys/\(id)" }

    /// A user's TOTP secrets sealed for the `totp_secret` and `pending_totp_secret` columns.
    static func sealedSecrets(_ user: User, sealer: any SecretSealer) throws -> (totp: Data?, pending: Data?) {
        let context = { (column: String) in userSecretContext(user.id, column) }
        return (
            try user.totpSecret.map { Data(try sealer.seal($0, context: context("totp"))) },
            try user.pendingTOTPSecret.map { Data(try sealer.seal($0, context: context("pending-totp"))) }
        )
    }

    static func user(_ row: some StoreRow, roles: [TenantID: Role], sealer: any SecretSealer) throws -> User {
        let id: String = try row.value("id")
        let context = { (column: String) in userSecretContext(id, column) }
        let totp: Data? = try row.value("totp_secret")
        let pending: Data? = try row.value("pending_totp_secret")
        return User(
            id: id, username: try Username(row.value("username")), passwordHash: try row.value("password_hash"),
            isEnabled: try row.value("enabled"), isPlatformAdmin: try row.value("platform_admin"), roles: roles,
            totpSecret: try totp.map { try sealer.open(Array($0), context: context("totp")) },
            pendingTOTPSecret: try pending.map { try sealer.open(Array($0), context: context("pending-totp")) },
            lastTOTPStep: try row.value("last_totp_step"), mustChangePassword: try row.value("must_change_password"),
            createdAt: try row.value("created_at"))
    }

    static func servicePrincipal(_ row: some StoreRow, roles: [TenantID: Role]) throws -> ServicePrincipal {
        ServicePrincipal(
            id: try row.value("id"), name: try row.value("name"),
            secretHash: Array(try row.value("secret_hash") as Data), isEnabled: try row.value("enabled"),
            roles: roles, createdAt: try row.value("created_at"))
    }

    /// `role_bindings` rows (`subject_id`, `tenant_id`, `role`) as each subject's roles.
    static func roleBindings<R: StoreRow>(_ rows: [R]) throws -> [String: [TenantID: Role]] {
        var bindings: [String: [TenantID: Role]] = [:]
        for row in rows {
            let stored: String = try row.value("role")
            guard let role = Role(rawValue: stored) else {
                throw WardenError(.storeUnavailable, "A stored role '\(stored)' is not known.")
            }
            bindings[try row.value("subject_id"), default: [:]][try TenantID(row.value("tenant_id"))] = role
        }
        return bindings
    }

    static func apiKey(_ row: some StoreRow) throws -> APIKey {
        APIKey(
            id: try row.value("id"), tenant: try TenantID(row.value("tenant_id")), name: try row.value("name"),
            permissions: Set(
                try JSONColumn.decode([Permission].self, try row.value("permissions"), column: "permissions")),
            deviceGroup: try (row.value("device_group") as String?).map(GroupName.init),
            expiresAt: try row.value("expires_at"), revokedAt: try row.value("revoked_at"),
            lastUsedAt: try row.value("last_used_at"), createdBy: try row.value("created_by"),
            createdAt: try row.value("created_at"), secretHash: Array(try row.value("secret_hash") as Data))
    }

    static func refreshToken(_ row: some StoreRow) throws -> RefreshToken {
        RefreshToken(
            hash: Array(try row.value("hash") as Data), family: try row.value("family"),
            userID: try row.value("user_id"), issuedAt: try row.value("issued_at"),
            expiresAt: try row.value("expires_at"), usedAt: try row.value("used_at"),
            revokedAt: try row.value("revoked_at"))
    }

    /// An `access_token_keys` row with its secret opened.
    static func signingKey(_ row: some StoreRow, sealer: any SecretSealer) throws
        -> (id: String, secret: SecretBytes, createdAt: Date)
    {
        let id: String = try row.value("id")
        let sealed: Data = try row.value("private_key")
        let createdAt: Date = try row.value("created_at")
        return (id, try sealer.open(Array(sealed), context: signingKeyContext(id)), createdAt)
    }
}
