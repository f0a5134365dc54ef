/// A person's sign-in name: 1 to 64 ASCII letters, digits and `- . _ @`, compared as given.
public typealias Username = RuledIdentifier<UsernameRules>

public enum UsernameRules: IdentifierKind {
    public static let rules = IdentifierRules(
        "username", maximumLength: 64, punctuation: "-._@", code: .userInvalidName)
}
