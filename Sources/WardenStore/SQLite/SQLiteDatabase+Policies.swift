import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: PolicyStore {
    public func createPolicy(_ policy: SharedAccessPolicy) async throws -> SharedAccessPolicy {
        let context = { RegistryRows.policyKeyContext(policy.tenantID, policy.name, $0) }
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
            ).map { try RegistryRows.policy($0, sealer: self.sealer) }
        }
    }

    public func allPolicies() async throws -> [SharedAccessPolicy] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM shared_access_policies").map {
                try RegistryRows.policy($0, sealer: self.sealer)
            }
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

}
