/// The name of a tenant-level shared access policy (a SAS token's `skn`): 1 to 64 letters, digits and `- . _`.
public struct PolicyName: ValidatedIdentifier {
    public let rawValue: String

    public init(_ rawValue: String) throws(WardenError) {
        self.rawValue = try IdentifierRules.validate(
            rawValue, what: "policy name", maximumLength: 64, allowedPunctuation: Set("-._".utf8),
            code: .policyInvalidName)
    }
}
