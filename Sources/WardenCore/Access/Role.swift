/// What a person or service may do in one tenant. Monitoring (read) and control (act on devices) are
/// separate permissions, so a monitor can watch a fleet without being able to command it.
public enum Role: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Everything in the tenant, including granting the owner role.
    case owner
    /// Everything in the tenant but granting the owner role.
    case admin
    /// Control: send cloud-to-device messages, invoke methods, disable and enable devices; monitoring; reading
    /// the authorization policy.
    case `operator`
    /// Monitoring: read devices, status, telemetry and twins.
    case monitor
    /// Read the tenant's audit log and its authorization policy.
    case auditor

    /// What the role holds.
    public var permissions: Set<Permission> {
        switch self {
        case .owner, .admin:
            Set(Permission.allCases).subtracting(Permission.platformOnly)
        case .operator:
            [.tenantsRead, .registryRead, .devicesControl, .telemetryRead, .policiesRead, .ownAccount]
        case .monitor:
            [.tenantsRead, .registryRead, .telemetryRead, .ownAccount]
        case .auditor:
            [.tenantsRead, .auditRead, .policiesRead, .ownAccount]
        }
    }

    /// Whether a holder of this role may grant `role` to someone: never more than one holds oneself.
    public func mayGrant(_ role: Role) -> Bool {
        switch self {
        case .owner: true
        case .admin: role != .owner
        case .operator, .monitor, .auditor: false
        }
    }

    /// Owner first: the order roles are listed in.
    public static func < (left: Role, right: Role) -> Bool {
        (allCases.firstIndex(of: left) ?? 0) < (allCases.firstIndex(of: right) ?? 0)
    }
}
