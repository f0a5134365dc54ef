public import WardenCore
import WardenStore

extension RegistryService {
    /// Creates a group with optional initial members (which must exist).
    public func createGroup(_ tenantID: TenantID, _ name: GroupName, description: String, members: Set<DeviceID>)
        async throws -> DeviceGroup
    {
        let group = DeviceGroup(
            tenantID: tenantID, name: name, description: description, members: members, createdAt: clock.now())
        return try await commit {
            let created = try await stores.groups.createGroup(group)
            return (created, [.groupChanged(created)])
        }
    }

    /// Whether `name` is a group of `tenantID` (API keys scoped to a group must name one that exists).
    public func groupExists(_ tenantID: TenantID, _ name: GroupName) async -> Bool {
        (try? await group(tenantID, name)) != nil
    }

    /// One group; `group.not_found` if absent.
    public func group(_ tenantID: TenantID, _ name: GroupName) async throws -> DeviceGroup {
        guard let group = try await stores.groups.group(tenantID, name) else {
            _ = try await tenant(tenantID)
            throw WardenError(.groupNotFound, "There is no group '\(name)' in tenant '\(tenantID)'.")
        }
        return group
    }

    /// A page of a tenant's groups.
    public func groups(_ tenantID: TenantID, after cursor: String?, limit: Int) async throws -> Page<DeviceGroup> {
        _ = try await tenant(tenantID)
        return try await stores.groups.groups(tenantID, after: cursor, limit: limit)
    }

    /// Adds or removes one member.
    public func setMembership(_ tenantID: TenantID, _ name: GroupName, _ device: DeviceID, isMember: Bool)
        async throws -> DeviceGroup
    {
        try await commit {
            let group = try await stores.groups.setMembership(tenantID, name, device, isMember: isMember)
            return (group, [.groupChanged(group)])
        }
    }

    /// Deletes a group (its devices stay).
    public func deleteGroup(_ tenantID: TenantID, _ name: GroupName) async throws {
        try await commit {
            try await stores.groups.deleteGroup(tenantID, name)
            return ((), [.groupDeleted(tenantID, name)])
        }
    }
}
