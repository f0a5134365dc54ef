public import Foundation

/// A customer workspace: every device, group, list and policy belongs to exactly one tenant.
public struct Tenant: Sendable, Hashable {
    /// The tenant's id.
    public let id: TenantID
    /// The host name its devices name in SAS tokens and MQTT usernames; unique across tenants.
    public let hostName: HostName
    /// When the tenant was created.
    public let createdAt: Date

    /// Makes a tenant value.
    public init(id: TenantID, hostName: HostName, createdAt: Date) {
        self.id = id
        self.hostName = hostName
        self.createdAt = createdAt
    }
}
