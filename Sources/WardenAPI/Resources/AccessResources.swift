import Foundation
import WardenAccess
import WardenCore

/// The token response of sign-in and `/oauth/token` (RFC 6749 §5.1 field names).
struct TokenResponse: Encodable {
    let accessToken: String
    let refreshToken: String?
    let tokenType = "Bearer"
    let expiresIn: Int
    let mustChangePassword: Bool?

    init(_ grant: TokenGrant) {
        accessToken = grant.accessToken
        refreshToken = grant.refreshToken
        expiresIn = grant.expiresIn
        mustChangePassword = grant.mustChangePassword ? true : nil
    }

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
        case mustChangePassword = "must_change_password"
    }
}

struct SignInRequest: APIRequestBody {
    static let fields: Set<String> = ["username", "password", "totp"]
    let username: String
    let password: String
    let totp: String?
}

struct SignOutRequest: APIRequestBody {
    static let fields: Set<String> = ["refresh_token"]
    let refreshToken: String

    enum CodingKeys: String, CodingKey { case refreshToken = "refresh_token" }
}

struct ChangePasswordRequest: APIRequestBody {
    static let fields: Set<String> = ["currentPassword", "newPassword"]
    let currentPassword: String
    let newPassword: String
}

struct TOTPCodeRequest: APIRequestBody {
    static let fields: Set<String> = ["code"]
    let code: String
}

/// Who the caller is.
struct PrincipalResource: Encodable {
    let id: String
    let name: String
    let kind: String
    let platformAdmin: Bool
    let roles: [String: String]
    let totpEnabled: Bool?

    init(_ principal: Principal, user: User?) {
        id = principal.id
        name = principal.name
        kind = principal.kind.rawValue
        platformAdmin = principal.isPlatformAdmin
        roles = Dictionary(uniqueKeysWithValues: principal.roles.map { ($0.key.rawValue, $0.value.rawValue) })
        totpEnabled = user.map { $0.totpSecret != nil }
    }
}

struct TOTPEnrollmentResource: Encodable {
    let secret: String
    let uri: String
}

struct UserResource: Codable {
    let id: String
    let username: String
    let enabled: Bool
    let platformAdmin: Bool
    let roles: [String: String]
    let totpEnabled: Bool
    let mustChangePassword: Bool
    let createdAt: Date
    /// Only in the answer to a create without a password: shown once.
    let password: String?

    init(_ user: User, password: SecretBytes? = nil) {
        id = user.id
        username = user.username.rawValue
        enabled = user.isEnabled
        platformAdmin = user.isPlatformAdmin
        roles = Dictionary(uniqueKeysWithValues: user.roles.map { ($0.key.rawValue, $0.value.rawValue) })
        totpEnabled = user.totpSecret != nil
        mustChangePassword = user.mustChangePassword
        createdAt = user.createdAt
        self.password = password.map { String(decoding: $0.bytes, as: UTF8.self) }
    }
}

struct CreateUserRequest: APIRequestBody {
    static let fields: Set<String> = ["username", "password", "platformAdmin", "roles"]
    let username: String
    let password: String?
    let platformAdmin: Bool?
    let roles: [String: Role]?
}

struct UpdateUserRequest: APIRequestBody {
    static let fields: Set<String> = ["enabled"]
    let enabled: Bool
}

struct RoleRequest: APIRequestBody {
    static let fields: Set<String> = ["role"]
    let role: Role
}

struct RoleBindingResource: Codable {
    let subject: String
    let name: String
    let kind: String
    let role: String
}

struct ServicePrincipalResource: Codable {
    let clientId: String
    let name: String
    let enabled: Bool
    let roles: [String: String]
    let createdAt: Date
    /// Only when created or rotated: shown once.
    let clientSecret: String?

    init(_ service: ServicePrincipal, secret: SecretBytes? = nil) {
        clientId = service.id
        name = service.name
        enabled = service.isEnabled
        roles = Dictionary(uniqueKeysWithValues: service.roles.map { ($0.key.rawValue, $0.value.rawValue) })
        createdAt = service.createdAt
        clientSecret = secret.map { String(decoding: $0.bytes, as: UTF8.self) }
    }
}

struct CreateServicePrincipalRequest: APIRequestBody {
    static let fields: Set<String> = ["name", "roles"]
    let name: String
    let roles: [String: Role]
}

struct APIKeyResource: Codable {
    let id: String
    let name: String
    let tenant: String
    let permissions: [String]
    let deviceGroup: String?
    let expiresAt: Date?
    let revokedAt: Date?
    let lastUsedAt: Date?
    let createdBy: String
    let createdAt: Date
    /// Only when created: shown once.
    let key: String?

    init(_ apiKey: APIKey, secret: SecretBytes? = nil) {
        id = apiKey.id
        name = apiKey.name
        tenant = apiKey.tenant.rawValue
        permissions = apiKey.permissions.map(\.rawValue).sorted()
        deviceGroup = apiKey.deviceGroup?.rawValue
        expiresAt = apiKey.expiresAt
        revokedAt = apiKey.revokedAt
        lastUsedAt = apiKey.lastUsedAt
        createdBy = apiKey.createdBy
        createdAt = apiKey.createdAt
        key = secret.map { String(decoding: $0.bytes, as: UTF8.self) }
    }
}

struct CreateAPIKeyRequest: APIRequestBody {
    static let fields: Set<String> = ["name", "permissions", "deviceGroup", "expiresAt"]
    let name: String
    let permissions: [Permission]
    let deviceGroup: String?
    let expiresAt: String?
}

extension [String: Role] {
    /// Role maps keyed by tenant id, each id validated.
    var byTenant: [TenantID: Role] {
        get throws {
            var roles: [TenantID: Role] = [:]
            for (tenant, role) in self { roles[try TenantID(tenant)] = role }
            return roles
        }
    }
}
