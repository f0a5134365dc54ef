/// A person's sign-in name: 1 to 64 ASCII letters, digits and `- . _ @`, compared as given.
public struct Username: ValidatedIdentifier {
    public let rawValue: String

    public init(_ rawValue: String) throws(WardenError) {
        self.rawValue = try IdentifierRules.validate(
            rawValue, what: "username", maximumLength: 64, allowedPunctuation: Set("-._@".utf8),
            code: .userInvalidName)
    }
}
