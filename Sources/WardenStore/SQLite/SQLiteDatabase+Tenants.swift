import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: TenantStore {
    public func createTenant(_ tenant: Tenant, etag: String) async throws -> Tenant {
        let emptyList = try JSONColumn.encode(AccessList.Entries())
        try await write { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM tenants WHERE id = ?", arguments: [tenant.id.rawValue]) != nil {
                throw WardenError(.tenantAlreadyExists, "A tenant with id '\(tenant.id)' already exists.")
            }
            if try Row.fetchOne(
                db, sql: "SELECT 1 FROM tenants WHERE host_name = ?", arguments: [tenant.hostName.rawValue]) != nil
            {
                throw WardenError(.tenantHostNameTaken, "Another tenant already uses host name '\(tenant.hostName)'.")
            }
            try db.execute(
                sql: "INSERT INTO tenants (id, host_name, created_at) VALUES (?, ?, ?)",
                arguments: [tenant.id.rawValue, tenant.hostName.rawValue, tenant.createdAt])
            try db.execute(
                sql: "INSERT INTO access_lists (tenant_id, allow_json, block_json, etag) VALUES (?, ?, ?, ?)",
                arguments: [tenant.id.rawValue, emptyList, emptyList, etag])
            try db.execute(
                sql:
                    "INSERT INTO ip_filters (tenant_id, default_action, rules_json, etag) VALUES (?, 'accept', '[]', ?)",
                arguments: [tenant.id.rawValue, etag])
        }
        return tenant
    }

    public func tenants(after cursor: String?, limit: Int) async throws -> Page<Tenant> {
        let tenants = try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM tenants WHERE id > ? ORDER BY id LIMIT ?", arguments: [cursor ?? "", limit + 1]
            ).map(RegistryRows.tenant)
        }
        return Page.cut(tenants, limit: limit) { $0.id.rawValue }
    }

    public func tenant(_ id: TenantID) async throws -> Tenant? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tenants WHERE id = ?", arguments: [id.rawValue]).map(
                RegistryRows.tenant)
        }
    }

    /// What a tenant owns that deleting it deletes (the rest cascades from `tenants`), in an order foreign keys
    /// allow.
    static let tenantOwnedTables = [
        "group_members", "device_groups", "shared_access_policies", "authorization_policies",
        "certificate_authorities", "enrollments", "registrations", "provisioning_scopes",
    ]

    public func deleteTenant(_ id: TenantID) async throws {
        try await write { db in
            let devices =
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM devices WHERE tenant_id = ?", arguments: [id.rawValue]) ?? 0
            guard devices == 0 else {
                throw WardenError(.tenantNotEmpty, "Tenant '\(id)' still has \(devices) devices; delete them first.")
            }
            for table in Self.tenantOwnedTables {
                try db.execute(sql: "DELETE FROM \(table) WHERE tenant_id = ?", arguments: [id.rawValue])
            }
            try db.execute(sql: "DELETE FROM tenants WHERE id = ?", arguments: [id.rawValue])
            guard db.changesCount == 1 else { throw WardenError(.tenantNotFound, "There is no tenant '\(id)'.") }
        }
    }

}

extension Page {
    /// Keeps the first `limit` of `limit + 1` fetched items; the extra one only says there is a next page.
    static func cut(_ fetched: [Item], limit: Int, key: (Item) -> String) -> Page {
        guard fetched.count > limit else { return Page(items: fetched, nextCursor: nil) }
        let items = Array(fetched.prefix(limit))
        return Page(items: items, nextCursor: items.last.map(key))
    }
}
