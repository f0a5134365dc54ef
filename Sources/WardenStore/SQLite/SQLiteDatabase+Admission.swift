import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: AdmissionStore {
    public func accessList(_ tenantID: TenantID) async throws -> AccessList {
        try await read { db in try Self.accessList(db, tenantID) }
    }

    public func replaceAccessList(_ tenantID: TenantID, _ list: AccessList, ifMatch: String?) async throws
        -> AccessList
    {
        let allow = try JSONColumn.encode(list.allow)
        let block = try JSONColumn.encode(list.block)
        return try await write { db in
            let current = try Self.accessList(db, tenantID)
            if let ifMatch, ifMatch != current.etag {
                throw WardenError(.accessListEtagMismatch, "The access list changed since you read it (etag mismatch).")
            }
            try db.execute(
                sql: "UPDATE access_lists SET allow_json = ?, block_json = ?, etag = ? WHERE tenant_id = ?",
                arguments: [allow, block, list.etag, tenantID.rawValue])
            return list
        }
    }

    public func ipFilter(_ tenantID: TenantID) async throws -> IPFilter {
        try await read { db in try Self.ipFilter(db, tenantID) }
    }

    public func replaceIPFilter(_ tenantID: TenantID, _ filter: IPFilter, ifMatch: String?) async throws -> IPFilter {
        let rules = try JSONColumn.encode(filter.rules)
        return try await write { db in
            let current = try Self.ipFilter(db, tenantID)
            if let ifMatch, ifMatch != current.etag {
                throw WardenError(.ipFilterEtagMismatch, "The IP filter changed since you read it (etag mismatch).")
            }
            try db.execute(
                sql: "UPDATE ip_filters SET default_action = ?, rules_json = ?, etag = ? WHERE tenant_id = ?",
                arguments: [filter.defaultAction.rawValue, rules, filter.etag, tenantID.rawValue])
            return filter
        }
    }

    public func allAdmissionRules() async throws -> [TenantID: (AccessList, IPFilter)] {
        try await read { db in
            var rules: [TenantID: (AccessList, IPFilter)] = [:]
            for id in try String.fetchAll(db, sql: "SELECT id FROM tenants") {
                let tenantID = try TenantID(id)
                rules[tenantID] = (try Self.accessList(db, tenantID), try Self.ipFilter(db, tenantID))
            }
            return rules
        }
    }

    private static func accessList(_ db: Database, _ tenantID: TenantID) throws -> AccessList {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT * FROM access_lists WHERE tenant_id = ?", arguments: [tenantID.rawValue])
        else { throw WardenError(.tenantNotFound, "There is no tenant '\(tenantID)'.") }
        return try RegistryRows.accessList(row)
    }

    private static func ipFilter(_ db: Database, _ tenantID: TenantID) throws -> IPFilter {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT * FROM ip_filters WHERE tenant_id = ?", arguments: [tenantID.rawValue])
        else { throw WardenError(.tenantNotFound, "There is no tenant '\(tenantID)'.") }
        return try RegistryRows.ipFilter(row, tenantID)
    }
}
