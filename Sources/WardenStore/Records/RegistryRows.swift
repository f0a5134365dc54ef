import Foundation
import WardenCore

/// Rows of the registry's tables as domain values, for both engines.
enum RegistryRows {
    static func tenant(_ row: some StoreRow) throws -> Tenant {
        Tenant(
            id: try TenantID(row.value("id")), hostName: try HostName(row.value("host_name")),
            createdAt: try row.value("created_at"))
    }

    static func group(_ row: some StoreRow, members: [String]) throws -> DeviceGroup {
        DeviceGroup(
            tenantID: try TenantID(row.value("tenant_id")), name: try GroupName(row.value("name")),
            description: try row.value("description"), members: Set(try members.map { try DeviceID($0) }),
            createdAt: try row.value("created_at"))
    }

    static func accessList(_ row: some StoreRow) throws -> AccessList {
        AccessList(
            allow: try JSONColumn.decode(AccessList.Entries.self, try row.value("allow_json"), column: "allow list"),
            block: try JSONColumn.decode(AccessList.Entries.self, try row.value("block_json"), column: "block list"),
            etag: try row.value("etag"))
    }

    static func ipFilter(_ row: some StoreRow, _ tenantID: TenantID) throws -> IPFilter {
        guard let action = IPFilter.Action(rawValue: try row.value("default_action")) else {
            throw WardenError(.storeUnavailable, "The stored IP filter of '\(tenantID)' has an unknown action.")
        }
        return try IPFilter(
            defaultAction: action,
            rules: try JSONColumn.decode([IPFilter.Rule].self, try row.value("rules_json"), column: "IP rules"),
            etag: try row.value("etag"))
    }

    /// The AAD binding a shared access policy's sealed key to its tenant, name and slot.
    static func policyKeyContext(
        _ tenantID: some CustomStringConvertible, _ name: some CustomStringConvertible, _ slot: String
    ) -> String {
        "policy-key:\(tenantID)/\(name)/\(slot)"
    }

    static func policy(_ row: some StoreRow, sealer: any SecretSealer) throws -> SharedAccessPolicy {
        let tenantID = try TenantID(row.value("tenant_id"))
        let name = try PolicyName(row.value("name"))
        let context = { policyKeyContext(tenantID, name, $0) }
        let primary: Data = try row.value("sealed_primary_key")
        let secondary: Data = try row.value("sealed_secondary_key")
        return SharedAccessPolicy(
            tenantID: tenantID, name: name,
            permissions: Set(
                try JSONColumn.decode(
                    [SharedAccessPolicy.Permission].self, try row.value("permissions_json"), column: "permissions")),
            keys: SASKeyPair(
                primary: try sealer.open(Array(primary), context: context("primary")),
                secondary: try sealer.open(Array(secondary), context: context("secondary"))),
            createdAt: try row.value("created_at"))
    }

    static func policyVersion(_ row: some StoreRow) throws -> AuthorizationPolicyVersion {
        let document: String = try row.value("document")
        return AuthorizationPolicyVersion(try policySummary(row, byteCount: document.utf8.count), document: document)
    }

    static func policySummary(_ row: some StoreRow, byteCount: Int) throws -> AuthorizationPolicyVersion.Summary {
        AuthorizationPolicyVersion.Summary(
            tenantID: try TenantID(row.value("tenant_id")), number: try row.value("version"),
            author: try row.value("author"), createdAt: try row.value("created_at"),
            restoredFrom: try row.value("restored_from"), byteCount: byteCount, isAuditOnly: try row.value("audit_only")
        )
    }
}
