public import Foundation
import PostgresNIO
public import WardenCore

extension PostgreSQLDatabase: AdmissionStore {
    public func accessList(_ tenantID: TenantID) async throws -> AccessList {
        try await read { connection in try await Self.accessList(connection, tenantID) }
    }

    public func replaceAccessList(_ tenantID: TenantID, _ list: AccessList, ifMatch: String?) async throws
        -> AccessList
    {
        let allow = try JSONColumn.encode(list.allow)
        let block = try JSONColumn.encode(list.block)
        return try await write { connection in
            let current = try await Self.accessList(connection, tenantID)
            if let ifMatch, ifMatch != current.etag {
                throw WardenError(.accessListEtagMismatch, "The access list changed since you read it (etag mismatch).")
            }
            try await connection.run(
                """
                UPDATE access_lists SET allow_json = \(allow), block_json = \(block), etag = \(list.etag)
                WHERE tenant_id = \(tenantID.rawValue)
                """)
            return list
        }
    }

    public func ipFilter(_ tenantID: TenantID) async throws -> IPFilter {
        try await read { connection in try await Self.ipFilter(connection, tenantID) }
    }

    public func replaceIPFilter(_ tenantID: TenantID, _ filter: IPFilter, ifMatch: String?) async throws -> IPFilter {
        let rules = try JSONColumn.encode(filter.rules)
        return try await write { connection in
            let current = try await Self.ipFilter(connection, tenantID)
            if let ifMatch, ifMatch != current.etag {
                throw WardenError(.ipFilterEtagMismatch, "The IP filter changed since you read it (etag mismatch).")
            }
            try await connection.run(
                """
                UPDATE ip_filters SET default_action = \(filter.defaultAction.rawValue), rules_json = \(rules),
                etag = \(filter.etag) WHERE tenant_id = \(tenantID.rawValue)
                """)
            return filter
        }
    }

    public func allAdmissionRules() async throws -> [TenantID: (AccessList, IPFilter)] {
        try await read { connection in
            var rules: [TenantID: (AccessList, IPFilter)] = [:]
            for row in try await connection.rows("SELECT id FROM tenants") {
                let tenantID = try TenantID(row.value("id"))
                rules[tenantID] = (
                    try await Self.accessList(connection, tenantID), try await Self.ipFilter(connection, tenantID)
                )
            }
            return rules
        }
    }

    private static func accessList(_ connection: PostgresConnection, _ tenantID: TenantID) async throws -> AccessList {
        guard
            let row = try await connection.rows("SELECT * FROM access_lists WHERE tenant_id = \(tenantID.rawValue)")
                .first
        else { throw WardenError(.tenantNotFound, "There is no tenant '\(tenantID)'.") }
        return try RegistryRows.accessList(row)
    }

    private static func ipFilter(_ connection: PostgresConnection, _ tenantID: TenantID) async throws -> IPFilter {
        guard
            let row = try await connection.rows("SELECT * FROM ip_filters WHERE tenant_id = \(tenantID.rawValue)").first
        else { throw WardenError(.tenantNotFound, "There is no tenant '\(tenantID)'.") }
        return try RegistryRows.ipFilter(row, tenantID)
    }
}

extension PostgreSQLDatabase: PolicyStore {
    public func createPolicy(_ policy: SharedAccessPolicy) async throws -> SharedAccessPolicy {
        let context = { RegistryRows.policyKeyContext(policy.tenantID, policy.name, $0) }
        let primary = Data(try sealer.seal(policy.keys.primary, context: context("primary")))
        let secondary = Data(try sealer.seal(policy.keys.secondary, context: context("secondary")))
        let permissions = try JSONColumn.encode(policy.permissions.sorted())
        try await write { connection in
            guard try await Self.tenantExists(connection, policy.tenantID) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(policy.tenantID)'.")
            }
            if try await connection.exists(
                """
                SELECT 1 FROM shared_access_policies
                WHERE tenant_id = \(policy.tenantID.rawValue) AND name = \(policy.name.rawValue)
                """)
            {
                throw WardenError(.policyAlreadyExists, "A shared access policy named '\(policy.name)' exists.")
            }
            try await connection.run(
                """
                INSERT INTO shared_access_policies
                (tenant_id, name, permissions_json, sealed_primary_key, sealed_secondary_key, created_at)
                VALUES (\(policy.tenantID.rawValue), \(policy.name.rawValue), \(permissions), \(primary),
                \(secondary), \(policy.createdAt))
                """)
        }
        return policy
    }

    public func policies(_ tenantID: TenantID) async throws -> [SharedAccessPolicy] {
        try await read { connection in
            try await connection.rows(
                "SELECT * FROM shared_access_policies WHERE tenant_id = \(tenantID.rawValue) ORDER BY name")
        }.map { try RegistryRows.policy($0, sealer: sealer) }
    }

    public func allPolicies() async throws -> [SharedAccessPolicy] {
        try await read { connection in
            try await connection.rows("SELECT * FROM shared_access_policies ORDER BY tenant_id, name")
        }
        .map { try RegistryRows.policy($0, sealer: sealer) }
    }

    public func deletePolicy(_ tenantID: TenantID, _ name: PolicyName) async throws {
        try await write { connection in
            guard
                try await connection.run(
                    """
                    DELETE FROM shared_access_policies WHERE tenant_id = \(tenantID.rawValue) AND name = \(name.rawValue)
                    """) == 1
            else {
                throw WardenError(.policyNotFound, "There is no shared access policy '\(name)' in '\(tenantID)'.")
            }
        }
    }
}

extension PostgreSQLDatabase: AuthorizationPolicyStore {
    public func appendPolicyVersion(
        _ tenantID: TenantID, document: String, isAuditOnly: Bool, author: String, createdAt: Date,
        restoredFrom: Int?, keep: Int
    ) async throws -> AuthorizationPolicyVersion {
        try await write { connection in
            guard try await Self.tenantExists(connection, tenantID) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(tenantID)'.")
            }
            let newest: Int? = try await connection.rows(
                "SELECT max(version) AS newest FROM authorization_policies WHERE tenant_id = \(tenantID.rawValue)"
            ).first?.value("newest")
            let number = (newest ?? 0) + 1
            try await connection.run(
                """
                INSERT INTO authorization_policies
                (tenant_id, version, document, author, created_at, restored_from, audit_only)
                VALUES (\(tenantID.rawValue), \(number), \(document), \(author), \(createdAt), \(restoredFrom),
                \(isAuditOnly))
                """)
            try await connection.run(
                """
                DELETE FROM authorization_policies WHERE tenant_id = \(tenantID.rawValue) AND version <= \(number - keep)
                AND version IS DISTINCT FROM (SELECT max(version) FROM authorization_policies
                                              WHERE tenant_id = \(tenantID.rawValue) AND NOT audit_only)
                """)
            return AuthorizationPolicyVersion(
                .init(
                    tenantID: tenantID, number: number, author: author, createdAt: createdAt,
                    restoredFrom: restoredFrom, byteCount: document.utf8.count, isAuditOnly: isAuditOnly),
                document: document)
        }
    }

    public func policyVersions(_ tenantID: TenantID) async throws -> [AuthorizationPolicyVersion.Summary] {
        try await read { connection in
            try await connection.rows(
                """
                SELECT tenant_id, version, author, created_at, restored_from, audit_only,
                octet_length(document)::bigint AS bytes
                FROM authorization_policies WHERE tenant_id = \(tenantID.rawValue) ORDER BY version DESC
                """
            ).map { row in try RegistryRows.policySummary(row, byteCount: row.value("bytes")) }
        }
    }

    public func policyVersion(_ tenantID: TenantID, _ number: Int) async throws -> AuthorizationPolicyVersion? {
        try await read { connection in
            try await connection.rows(
                "SELECT * FROM authorization_policies WHERE tenant_id = \(tenantID.rawValue) AND version = \(number)"
            ).first.map(RegistryRows.policyVersion)
        }
    }

    public func currentPolicyVersions() async throws -> [AuthorizationPolicyVersion] {
        try await read { connection in
            try await connection.rows(
                """
                SELECT * FROM authorization_policies AS candidate
                WHERE version = (SELECT max(version) FROM authorization_policies WHERE tenant_id = candidate.tenant_id)
                OR version = (SELECT max(version) FROM authorization_policies
                              WHERE tenant_id = candidate.tenant_id AND NOT audit_only)
                ORDER BY tenant_id, version
                """
            ).map(RegistryRows.policyVersion)
        }
    }
}

extension PostgreSQLDatabase: CredentialStore {
    public func storeCredentialHash(name: String, hash: [UInt8], createdAt: Date) async throws {
        try await write { connection in
            try await connection.run(
                """
                INSERT INTO management_credentials (name, credential_hash, created_at)
                VALUES (\(name), \(Data(hash)), \(createdAt))
                ON CONFLICT (name) DO UPDATE SET credential_hash = excluded.credential_hash,
                created_at = excluded.created_at
                """)
        }
    }

    public func credentialHashes() async throws -> [String: [UInt8]] {
        try await read { connection in
            Dictionary(
                uniqueKeysWithValues: try await connection.rows(
                    "SELECT name, credential_hash FROM management_credentials"
                )
                .map { (try $0.value("name") as String, Array(try $0.value("credential_hash") as Data)) })
        }
    }
}
