/// The name of a device group within a tenant: 1 to 128 ASCII letters, digits and `- . _`.
public typealias GroupName = RuledIdentifier<GroupNameRules>

public enum GroupNameRules: IdentifierKind {
    public static let rules = IdentifierRules(
        "group name", maximumLength: 128, punctuation: "-._", code: .groupInvalidName)
}
