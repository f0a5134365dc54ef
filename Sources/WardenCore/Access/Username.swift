/// A person's sign-in name: 1 to 64 ASCII letters, digits and `- . _ @`, compared as given.
public struct Username: ValidatedIdentifier {
    public let rawValue: String

    public static let rules = IdentifierRules(
        "username", maximumLength: 64, punctuation: "-._@", code: .userInvalidName)

    public init(_ rawValue: String) throws(WardenError) {
        self.rawValue = try Self.rules.validate(rawValue)
    }
}
