/// The name of a tenant-level shared access policy (a SAS token's `skn`): 1 to 64 letters, digits and `- . _`.
public typealias PolicyName = RuledIdentifier<PolicyNameRules>

public enum PolicyNameRules: IdentifierKind {
    public static let rules = IdentifierRules(
        "policy name", maximumLength: 64, punctuation: "-._", code: .policyInvalidName)
}
