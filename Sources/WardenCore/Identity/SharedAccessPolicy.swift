public import Foundation

/// A tenant-level key pair with permissions; SAS tokens signed with it carry its name as `skn` (anchors.md §1.2).
public struct SharedAccessPolicy: Sendable {
    /// What a policy's tokens may do.
    public enum Permission: String, Sendable, Codable, CaseIterable, Comparable {
        case deviceConnect
        case serviceConnect
        case registryRead
        case registryReadWrite

        public static func < (lhs: Permission, rhs: Permission) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// The tenant it belongs to.
    public let tenantID: TenantID
    /// Its name (the token's `skn`).
    public let name: PolicyName
    /// What its tokens grant.
    public var permissions: Set<Permission>
    /// Its keys.
    public var keys: SASKeyPair
    /// When it was created.
    public let createdAt: Date

    /// Makes a policy value.
    public init(
        tenantID: TenantID, name: PolicyName, permissions: Set<Permission>, keys: SASKeyPair, createdAt: Date
    ) {
        self.tenantID = tenantID
        self.name = name
        self.permissions = permissions
        self.keys = keys
        self.createdAt = createdAt
    }
}
