public import WardenCore
import WardenPolicy
import WardenStore

extension RegistryService {
    /// The tenant's authorization policy in force, or nil while it has written none (the shipped statements
    /// alone are in force).
    public func authorizationPolicy(_ tenantID: TenantID) async throws -> AuthorizationPolicyVersion? {
        _ = try await tenant(tenantID)
        guard let newest = try await stores.authorizationPolicies.policyVersions(tenantID).first else { return nil }
        return try await stores.authorizationPolicies.policyVersion(tenantID, newest.number)
    }

    /// Puts `document` in force as a new version, once it reads as a policy document; a document equal byte for
    /// byte to the newest makes no version and returns that one (`isNew` false), so applying a file twice changes
    /// nothing. `ifMatch`, when given, must be the newest version's number (`0` while there is none): an editor
    /// does not overwrite a change it has not seen.
    public func writeAuthorizationPolicy(
        _ tenantID: TenantID, document: [UInt8], author: String, ifMatch: String? = nil
    ) async throws -> (version: AuthorizationPolicyVersion, isNew: Bool) {
        let parsed = try PolicyDocument(text: document)
        guard let text = String(validating: document, as: UTF8.self) else {
            throw WardenError(.policyInvalidDocument, "The policy document is not UTF-8.")
        }
        return try await commit {
            let current = try await authorizationPolicy(tenantID)
            try Self.check(ifMatch, against: "\(current?.number ?? 0)", .policyVersionMismatch, "policy")
            if let current, current.document == text { return ((current, false), []) }
            let version = try await stores.authorizationPolicies.appendPolicyVersion(
                tenantID, document: text, isAuditOnly: parsed.tolerance == .auditOnly, author: author,
                createdAt: clock.now(), restoredFrom: nil, keep: policyVersionsKept)
            return ((version, true), [.authorizationPolicyChanged(version)])
        }
    }

    /// The tenant's kept versions, newest first.
    public func authorizationPolicyVersions(_ tenantID: TenantID) async throws -> [AuthorizationPolicyVersion.Summary] {
        _ = try await tenant(tenantID)
        return try await stores.authorizationPolicies.policyVersions(tenantID)
    }

    /// One kept version; `policy_version.not_found` for one never written or pruned.
    public func authorizationPolicyVersion(_ tenantID: TenantID, _ number: Int) async throws
        -> AuthorizationPolicyVersion
    {
        _ = try await tenant(tenantID)
        guard let version = try await stores.authorizationPolicies.policyVersion(tenantID, number) else {
            throw WardenError(
                .policyVersionNotFound,
                "Tenant '\(tenantID)' has no policy version \(number); 'warden policy versions' lists the kept ones.")
        }
        return version
    }

    /// Puts an earlier version's document back in force as a new version that records which one it restores.
    public func rollBackAuthorizationPolicy(
        _ tenantID: TenantID, to number: Int, author: String
    ) async throws -> AuthorizationPolicyVersion {
        let earlier = try await authorizationPolicyVersion(tenantID, number)
        // Checked again: a release that reads documents more strictly must not put an unreadable one in force.
        let parsed = try PolicyDocument(text: Array(earlier.document.utf8))
        return try await commit {
            let version = try await stores.authorizationPolicies.appendPolicyVersion(
                tenantID, document: earlier.document, isAuditOnly: parsed.tolerance == .auditOnly, author: author,
                createdAt: clock.now(), restoredFrom: number, keep: policyVersionsKept)
            return (version, [.authorizationPolicyChanged(version)])
        }
    }
}
