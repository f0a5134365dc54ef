public import WardenCore
import WardenStore

extension RegistryService {
    /// Creates a shared access policy with two fresh keys.
    public func createPolicy(
        _ tenantID: TenantID, _ name: PolicyName, permissions: Set<SharedAccessPolicy.Permission>
    ) async throws -> SharedAccessPolicy {
        guard !permissions.isEmpty else {
            throw WardenError(.requestInvalidField, "A shared access policy needs at least one permission.")
        }
        let policy = SharedAccessPolicy(
            tenantID: tenantID, name: name, permissions: permissions, keys: .random(), createdAt: clock.now())
        return try await commit {
            let created = try await stores.policies.createPolicy(policy)
            return (created, [.policyChanged(created)])
        }
    }

    /// A tenant's policies.
    public func policies(_ tenantID: TenantID) async throws -> [SharedAccessPolicy] {
        _ = try await tenant(tenantID)
        return try await stores.policies.policies(tenantID)
    }

    /// Deletes a policy; tokens signed with it stop working at once.
    public func deletePolicy(_ tenantID: TenantID, _ name: PolicyName) async throws {
        try await commit {
            try await stores.policies.deletePolicy(tenantID, name)
            return ((), [.policyDeleted(tenantID, name)])
        }
    }
}
