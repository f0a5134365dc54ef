public import WardenCore
import WardenStore

extension RegistryService {
    /// The tenant's allow and block lists.
    public func accessList(_ tenantID: TenantID) async throws -> AccessList {
        try await stores.admission.accessList(tenantID)
    }

    /// Replaces the tenant's allow and block lists if `ifMatch` (when given) equals the current etag.
    public func replaceAccessList(
        _ tenantID: TenantID, allow: AccessList.Entries, block: AccessList.Entries, ifMatch: String?
    ) async throws -> AccessList {
        let list = AccessList(allow: allow, block: block, etag: Self.makeETag())
        return try await commit {
            let stored = try await stores.admission.replaceAccessList(
                tenantID, list, ifMatch: ifMatch.flatMap { $0 == "*" ? nil : $0 })
            return (stored, [.accessListChanged(tenantID, stored)])
        }
    }

    /// The tenant's IP filter.
    public func ipFilter(_ tenantID: TenantID) async throws -> IPFilter {
        try await stores.admission.ipFilter(tenantID)
    }

    /// Replaces the tenant's IP filter if `ifMatch` (when given) equals the current etag.
    public func replaceIPFilter(
        _ tenantID: TenantID, defaultAction: IPFilter.Action, rules: [IPFilter.Rule], ifMatch: String?
    ) async throws -> IPFilter {
        let filter = try IPFilter(defaultAction: defaultAction, rules: rules, etag: Self.makeETag())
        return try await commit {
            let stored = try await stores.admission.replaceIPFilter(
                tenantID, filter, ifMatch: ifMatch.flatMap { $0 == "*" ? nil : $0 })
            return (stored, [.ipFilterChanged(tenantID, stored)])
        }
    }
}
