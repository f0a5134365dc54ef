/// The name of a device group within a tenant: 1 to 128 ASCII letters, digits and `- . _`.
public struct GroupName: ValidatedIdentifier {
    public let rawValue: String

    public static let rules = IdentifierRules(
        "group name", maximumLength: 128, punctuation: "-._", code: .groupInvalidName)

    public init(_ rawValue: String) throws(WardenError) {
        self.rawValue = try Self.rules.validate(rawValue)
    }
}
