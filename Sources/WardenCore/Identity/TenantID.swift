/// A tenant identifier: a DNS label (lower-case letters, digits and `-`, 1 to 63 characters).
///
/// Tenants name host names (`acme.hub.example`), so the id must be usable as one label.
public struct TenantID: ValidatedIdentifier {
    /// The tenant every fresh data directory has.
    public static let defaultTenant = TenantID(unchecked: "default")

    public let rawValue: String

    public init(_ rawValue: String) throws(WardenError) {
        let value = try IdentifierRules.validate(
            rawValue, what: "tenant id", maximumLength: 63, allowedPunctuation: [UInt8(ascii: "-")],
            allowsUppercase: false, code: .tenantInvalidID)
        if value.hasPrefix("-") || value.hasSuffix("-") {
            throw WardenError(.tenantInvalidID, "The tenant id must not start or end with '-'.")
        }
        self.rawValue = value
    }

    private init(unchecked: String) { self.rawValue = unchecked }
}
