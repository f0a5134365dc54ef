public import WardenCore
import WardenStore

extension RegistryService {
    /// Creates a tenant; its host name defaults to `{id}.{hub host name}` (the hub's own for `default`).
    public func createTenant(_ id: TenantID, hostName: HostName? = nil) async throws -> Tenant {
        let host =
            try hostName ?? (id == .defaultTenant ? hubHostName : HostName("\(id.rawValue).\(hubHostName.rawValue)"))
        let tenant = Tenant(id: id, hostName: host, createdAt: clock.now())
        let etag = Self.makeETag()
        return try await commit {
            let created = try await stores.tenants.createTenant(tenant, etag: etag)
            return (
                created,
                [
                    .tenantCreated(created),
                    .accessListChanged(id, AccessList(allow: .init(), block: .init(), etag: etag)),
                    .ipFilterChanged(id, .acceptAll(etag: etag)),
                ]
            )
        }
    }

    /// Creates the `default` tenant unless it exists; returns whether it did.
    public func ensureDefaultTenant() async throws -> Bool {
        guard try await stores.tenants.tenant(.defaultTenant) == nil else { return false }
        _ = try await createTenant(.defaultTenant)
        return true
    }

    /// One tenant; `tenant.not_found` if absent.
    public func tenant(_ id: TenantID) async throws -> Tenant {
        guard let tenant = try await stores.tenants.tenant(id) else {
            throw WardenError(.tenantNotFound, "There is no tenant '\(id)'.")
        }
        return tenant
    }

    /// A page of tenants.
    public func tenants(after cursor: String?, limit: Int) async throws -> Page<Tenant> {
        try await stores.tenants.tenants(after: cursor, limit: limit)
    }

    /// Deletes a tenant that has no devices; the `default` tenant stays.
    public func deleteTenant(_ id: TenantID) async throws {
        guard id != .defaultTenant else {
            throw WardenError(.tenantNotEmpty, "The default tenant cannot be deleted.")
        }
        try await commit {
            try await stores.tenants.deleteTenant(id)
            return ((), [.tenantDeleted(id)])
        }
    }
}
