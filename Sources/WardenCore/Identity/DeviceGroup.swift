public import Foundation

/// A named set of devices in one tenant, used by access lists and, later, policies.
public struct DeviceGroup: Sendable, Hashable {
    /// The tenant it belongs to.
    public let tenantID: TenantID
    /// Its name, unique within the tenant.
    public let name: GroupName
    /// A free-text description for operators.
    public var description: String
    /// Its members.
    public var members: Set<DeviceID>
    /// When it was created.
    public let createdAt: Date

    /// Makes a group value.
    public init(tenantID: TenantID, name: GroupName, description: String, members: Set<DeviceID>, createdAt: Date) {
        self.tenantID = tenantID
        self.name = name
        self.description = description
        self.members = members
        self.createdAt = createdAt
    }
}
