/// What a management route requires; every route declares exactly one.
public enum Permission: String, Sendable, CaseIterable, Codable, Comparable {
    /// Create and delete tenants (platform-wide).
    case tenantsManage = "tenants.manage"
    /// Read tenants.
    case tenantsRead = "tenants.read"
    /// Read devices, groups, lists and filters (monitoring).
    case registryRead = "registry.read"
    /// Create, change and delete devices, groups, lists and filters.
    case registryWrite = "registry.write"
    /// Read or issue device credentials (keys, connection strings, SAS tokens).
    case credentialsManage = "credentials.manage"
    /// Control devices: send cloud-to-device messages, purge their queues, invoke methods, disable and enable.
    case devicesControl = "devices.control"
    /// Read devices' telemetry (monitoring).
    case telemetryRead = "telemetry.read"
    /// Manage the tenant's people, service principals and their roles.
    case usersManage = "users.manage"
    /// Create, list and revoke the tenant's API keys.
    case apiKeysManage = "api_keys.manage"
    /// Read the tenant's authorization policy and its versions, and ask what it would decide.
    case policiesRead = "policies.read"
    /// Write the tenant's authorization policy and roll it back.
    case policiesManage = "policies.manage"
    /// Read the audit log.
    case auditRead = "audit.read"
    /// Act on one's own account: see who one is, change one's password, set up a second factor. Every user
    /// and service principal holds it; API keys do not.
    case ownAccount = "account.self"
    /// Read server metrics (platform-wide).
    case metricsRead = "metrics.read"
    /// Rotate the access-token signing key and verify the audit chain (platform-wide).
    case platformManage = "platform.manage"

    /// Permissions no tenant role holds: only a platform administrator does.
    public static let platformOnly: Set<Permission> = [.tenantsManage, .metricsRead, .platformManage]

    public static func < (left: Permission, right: Permission) -> Bool { left.rawValue < right.rawValue }
}
