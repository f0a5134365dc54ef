/// Who is making a management request.
///
/// The foundation knows one kind, the bootstrap administrator; users, roles and service principals come
/// with the identity issue and plug in here without changing the routes, which ask only `may(_:)`.
public enum Principal: Sendable, Hashable {
    /// The platform administrator whose credential the first start wrote to the data directory.
    case bootstrapAdmin

    /// A stable name for logs and audit records.
    public var name: String {
        switch self {
        case .bootstrapAdmin: "bootstrap-admin"
        }
    }

    /// Whether the principal holds `permission` in `tenant` (nil: a platform-wide permission).
    public func may(_ permission: Permission, in tenant: TenantID?) -> Bool {
        switch self {
        case .bootstrapAdmin: true
        }
    }
}
