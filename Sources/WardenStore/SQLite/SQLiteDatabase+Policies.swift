import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: PolicyStore {
    public func createPolicy(_ policy: SharedAccessPolicy) async throws -> SharedAccessPolicy {
        let context = { Self.keyContext(policy.tenantID, policy.name, $0) }
        let primary = try sealer.seal(policy.keys.primary, context: context("primary"))
        let secondary = try sealer.seal(policy.keys.secondary, context: context("secondary"))
        let permissions = try JSONColumn.encode(policy.permissions.sorted())
        try await write { db in
            guard try Self.tenantExists(db, policy.tenantID) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(policy.tenantID)'.")
            }
            if try Row.fetchOne(
                db, sql: "SELECT 1 FROM shared_access_policies WHERE tenant_id = ? AND name = ?",
                arguments: [policy.tenantID.rawValue, policy.name.rawValue]) != nil
            {
                throw WardenError(.policyAlreadyExists, "A shared access policy named '\(policy.name)' exists.")
            }
            try db.execute(
                sql: """
                    INSERT INTO shared_access_policies
                    (tenant_id, name, permissions_json, sealed_primary_key, sealed_secondary_key, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    policy.tenantID.rawValue, policy.name.rawValue, permissions, Data(primary), Data(secondary),
                    policy.createdAt,
                ])
        }
        return policy
    }

    public func policies(_ tenantID: TenantID) async throws -> [SharedAccessPolicy] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM shared_access_policies WHERE tenant_id = ? ORDER BY name",
                arguments: [tenantID.rawValue]
            ).map(self.policy(from:))
        }
    }

    public func allPolicies() async throws -> [SharedAccessPolicy] {
        try await read { db in try Row.fetchAll(db, sql: "SELECT * FROM shared_access_policies").map(self.policy(from:))
        }
    }

    public func deletePolicy(_ tenantID: TenantID, _ name: PolicyName) async throws {
        try await write { db in
            try db.execute(
                sql: "DELETE FROM shared_access_policies WHERE tenant_id = ? AND name = ?",
                arguments: [tenantID.rawValue, name.rawValue])
            guard db.changesCount == 1 else {
                throw WardenError(.policyNotFound, "There is no shared access policy '\(name)' in '\(tenantID)'.")
            }
        }
    }

    static func keyContext(
        _ tenantID: some CustomStringConvertible, _ name: some CustomStringConvertible, _ slot: String
    ) -> String {
        "policy-key:\(tenantID)/\(name)/\(slot)"
    }

    private func policy(from row: Row) throws -> SharedAccessPolicy {
        let tenantID = try TenantID(row.decode(forColumn: "tenant_id"))
        let name = try PolicyName(row.decode(forColumn: "name"))
        let context = { Self.keyContext(tenantID, name, $0) }
        let primary: Data = try row.decode(forColumn: "sealed_primary_key")
        let secondary: Data = try row.decode(forColumn: "sealed_secondary_key")
        return SharedAccessPolicy(
            tenantID: tenantID, name: name,
            permissions: Set(
                try JSONColumn.decode(
                    [SharedAccessPolicy.Permission].self, try row.decode(forColumn: "permissions_json"),
                    column: "permissions")),
            keys: SASKeyPair(
                primary: try sealer.open(Array(primary), context: context("primary")),
                secondary: try sealer.open(Array(secondary), context: context("secondary"))),
            createdAt: try row.decode(forColumn: "created_at"))
    }
}
