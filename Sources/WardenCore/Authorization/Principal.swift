/// Who is making a management request, and what they hold, resolved once per request from the credential.
///
/// Routes ask only `may(_:in:)`; tenant isolation asks `canSee(_:)` first, so that a tenant the principal
/// has no role in answers 404 exactly like one that does not exist.
public struct Principal: Sendable, Hashable {
    /// What kind of identity acts.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A person who signed in (or the bootstrap administrator's credential).
        case user
        /// A backend application (OAuth2 client credentials).
        case service
        /// An API key: scoped to one tenant and a set of permissions.
        case apiKey = "api_key"
    }

    /// An API key's limits, beyond its tenant.
    public struct KeyScope: Sendable, Hashable {
        /// The key's tenant.
        public let tenant: TenantID
        /// The permissions the key carries (never more than its creator held).
        public let permissions: Set<Permission>
        /// When set, the key reaches only devices in this group.
        public let deviceGroup: GroupName?

        public init(tenant: TenantID, permissions: Set<Permission>, deviceGroup: GroupName?) {
            self.tenant = tenant
            self.permissions = permissions
            self.deviceGroup = deviceGroup
        }
    }

    public let kind: Kind
    /// The user, service principal or API key id.
    public let id: String
    /// A stable, readable name for logs and audit records (a username, a service name, a key name).
    public let name: String
    /// Holds every permission in every tenant.
    public let isPlatformAdmin: Bool
    /// Roles per tenant.
    public let roles: [TenantID: Role]
    /// An API key's scope (nil for users and services).
    public let keyScope: KeyScope?
    /// A user signed in with a password Warden generated: only its own account is reachable until it
    /// chooses one.
    public let mustChangePassword: Bool

    public init(
        kind: Kind, id: String, name: String, isPlatformAdmin: Bool = false, roles: [TenantID: Role] = [:],
        keyScope: KeyScope? = nil, mustChangePassword: Bool = false
    ) {
        self.kind = kind
        self.id = id
        self.name = name
        self.isPlatformAdmin = isPlatformAdmin
        self.roles = roles
        self.keyScope = keyScope
        self.mustChangePassword = mustChangePassword
    }

    /// Whether the principal may know that `tenant` exists.
    public func canSee(_ tenant: TenantID) -> Bool {
        if let keyScope { return keyScope.tenant == tenant }
        return isPlatformAdmin || roles[tenant] != nil
    }

    /// Whether the principal holds `permission` in `tenant` (nil: a platform-wide permission, or a listing
    /// that each principal sees filtered to its tenants).
    public func may(_ permission: Permission, in tenant: TenantID?) -> Bool {
        if let keyScope {
            guard let tenant, tenant == keyScope.tenant else { return false }
            return keyScope.permissions.contains(permission)
        }
        if permission == .ownAccount { return true }
        if mustChangePassword { return false }
        if isPlatformAdmin { return true }
        guard let tenant else {
            // Platform-wide routes need the platform role; tenant listings are filtered per tenant.
            return !Permission.platformOnly.contains(permission) && !roles.isEmpty
        }
        return roles[tenant]?.permissions.contains(permission) ?? false
    }

    /// Why a request for `permission` in `tenant` is refused, if it is: the one check of the API and the
    /// portal. A tenant the principal may not see is refused as unknown first, so that nobody learns it exists.
    public func refusal(of permission: Permission, in tenant: TenantID?) -> Refusal? {
        if let tenant, !canSee(tenant) { return .unknownTenant }
        if mustChangePassword, permission != .ownAccount { return .passwordChangeRequired }
        return may(permission, in: tenant) ? nil : .notPermitted
    }

    /// Why `refusal(of:in:)` refused.
    public enum Refusal: Sendable, Equatable {
        /// The tenant is not the principal's to see: answered exactly as a tenant that does not exist.
        case unknownTenant
        /// A generated password must be changed before anything but one's own account.
        case passwordChangeRequired
        /// The role or key does not hold the permission.
        case notPermitted
    }

    /// The permissions held in `tenant` (all of them for a platform administrator).
    public func permissions(in tenant: TenantID) -> Set<Permission> {
        if let keyScope { return keyScope.tenant == tenant ? keyScope.permissions : [] }
        if isPlatformAdmin { return Set(Permission.allCases) }
        return roles[tenant]?.permissions ?? []
    }
}
