public import Foundation
import WardenAccess
import WardenCore

/// The token response of sign-in and `/oauth/token` (RFC 6749 §5.1 field names).
public struct TokenResponse: Codable, Sendable {
    public let accessToken: String
    public let refreshToken: String?
    public var tokenType = "Bearer"
    public let expiresIn: Int
    public let mustChangePassword: Bool?

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
public struct PrincipalResource: Codable, Sendable {
    public let id: String
    public let name: String
    public let kind: String
    public let platformAdmin: Bool
    public let roles: [String: String]
    public let totpEnabled: Bool?

    init(_ principal: Principal, user: User?) {
        id = principal.id
        name = principal.name
        kind = principal.kind.rawValue
        platformAdmin = principal.isPlatformAdmin
        roles = Dictionary(uniqueKeysWithValues: principal.roles.map { ($0.key.rawValue, $0.value.rawValue) })
        totpEnabled = user.map { $0.totpSecret != nil }
    }
}

public struct TOTPEnrollmentResource: Codable, Sendable {
    public let secret: String
    public let uri: String
}

public struct UserResource: Codable, Sendable {
    public let id: String
    public let username: String
    public let enabled: Bool
    public let platformAdmin: Bool
    public let roles: [String: String]
    public let totpEnabled: Bool
    public let mustChangePassword: Bool
    public let createdAt: Date
    /// Only in the answer to a create without a password: shown once.
    public let password: String?

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

public struct RoleBindingResource: Codable, Sendable {
    public let subject: String
    public let name: String
    public let kind: String
    public let role: String
}

public struct ServicePrincipalResource: Codable, Sendable {
    public let clientId: String
    public let name: String
    public let enabled: Bool
    public let roles: [String: String]
    public let createdAt: Date
    /// Only when created or rotated: shown once.
    public let clientSecret: String?

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

public struct APIKeyResource: Codable, Sendable {
    public let id: String
    public let name: String
    public let tenant: String
    public let permissions: [String]
    public let deviceGroup: String?
    public let expiresAt: Date?
    public let revokedAt: Date?
    public let lastUsedAt: Date?
    public let createdBy: String
    public let createdAt: Date
    /// Only when created: shown once.
    public let key: String?

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
