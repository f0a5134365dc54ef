public import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: AuthorizationPolicyStore {
    public func appendPolicyVersion(
        _ tenantID: TenantID, document: String, isAuditOnly: Bool, author: String, createdAt: Date,
        restoredFrom: Int?, keep: Int
    ) async throws -> AuthorizationPolicyVersion {
        try await write { db in
            guard try Self.tenantExists(db, tenantID) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(tenantID)'.")
            }
            let newest =
                try Int.fetchOne(
                    db, sql: "SELECT max(version) FROM authorization_policies WHERE tenant_id = ?",
                    arguments: [tenantID.rawValue]) ?? 0
            let number = newest + 1
            try db.execute(
                sql: """
                    INSERT INTO authorization_policies
                    (tenant_id, version, document, author, created_at, restored_from, audit_only)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [tenantID.rawValue, number, document, author, createdAt, restoredFrom, isAuditOnly])
            try db.execute(
                sql: """
                    DELETE FROM authorization_policies WHERE tenant_id = ? AND version <= ? AND version IS NOT
                    (SELECT max(version) FROM authorization_policies WHERE tenant_id = ? AND audit_only = 0)
                    """,
                arguments: [tenantID.rawValue, number - keep, tenantID.rawValue])
            return AuthorizationPolicyVersion(
                .init(
                    tenantID: tenantID, number: number, author: author, createdAt: createdAt,
                    restoredFrom: restoredFrom, byteCount: document.utf8.count, isAuditOnly: isAuditOnly),
                document: document)
        }
    }

    public func policyVersions(_ tenantID: TenantID) async throws -> [AuthorizationPolicyVersion.Summary] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT tenant_id, version, author, created_at, restored_from, audit_only,
                    length(CAST(document AS BLOB)) AS bytes
                    FROM authorization_policies WHERE tenant_id = ? ORDER BY version DESC
                    """,
                arguments: [tenantID.rawValue]
            ).map { row in try RegistryRows.policySummary(row, byteCount: row.decode(forColumn: "bytes")) }
        }
    }

    public func policyVersion(_ tenantID: TenantID, _ number: Int) async throws -> AuthorizationPolicyVersion? {
        try await read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM authorization_policies WHERE tenant_id = ? AND version = ?",
                arguments: [tenantID.rawValue, number]
            ).map(RegistryRows.policyVersion)
        }
    }

    public func currentPolicyVersions() async throws -> [AuthorizationPolicyVersion] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM authorization_policies AS candidate
                    WHERE version = (SELECT max(version) FROM authorization_policies WHERE tenant_id = candidate.tenant_id)
                    OR version = (SELECT max(version) FROM authorization_policies
                                  WHERE tenant_id = candidate.tenant_id AND audit_only = 0)
                    ORDER BY tenant_id, version
                    """
            ).map(RegistryRows.policyVersion)
        }
    }

}
