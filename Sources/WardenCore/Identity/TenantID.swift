/// A tenant identifier: a DNS label (lower-case letters, digits and `-`, 1 to 63 characters).
///
/// Tenants name host names (`acme.hub.example`), so the id must be usable as one label.
public struct TenantID: ValidatedIdentifier {
    /// The tenant every fresh data directory has.
    public static let defaultTenant = TenantID(unchecked: "default")

    public let rawValue: String

    public static let rules = IdentifierRules(
        "tenant id", maximumLength: 63, punctuation: "-", allowsUppercase: false, edgesAreAlphanumeric: true,
        code: .tenantInvalidID)

    public init(_ rawValue: String) throws(WardenError) {
        self.rawValue = try Self.rules.validate(rawValue)
    }

    private init(unchecked: String) { self.rawValue = unchecked }
}
