/// The name of a tenant-level shared access policy (a SAS token's `skn`): 1 to 64 letters, digits and `- . _`.
public struct PolicyName: ValidatedIdentifier {
    public let rawValue: String

    public static let rules = IdentifierRules(
        "policy name", maximumLength: 64, punctuation: "-._", code: .policyInvalidName)

    public init(_ rawValue: String) throws(WardenError) {
        self.rawValue = try Self.rules.validate(rawValue)
    }
}
