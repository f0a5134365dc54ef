/// The name of a device group within a tenant: 1 to 128 ASCII letters, digits and `- . _`.
public struct GroupName: ValidatedIdentifier {
    public let rawValue: String

    public init(_ rawValue: String) throws(WardenError) {
        self.rawValue = try IdentifierRules.validate(
            rawValue, what: "group name", maximumLength: 128, allowedPunctuation: Set("-._".utf8),
            code: .groupInvalidName)
    }
}
