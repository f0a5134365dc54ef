/// A device identifier, valid by Azure IoT Hub's rules (anchors.md §1.7).
///
/// Case-sensitive, 1 to 128 ASCII characters: letters, digits and `- . + % _ # * ? ! ( ) , = @ $ '`.
public struct DeviceID: ValidatedIdentifier {
    /// The longest identifier Azure accepts.
    public static let maximumLength = 128

    public let rawValue: String

    public static let rules = IdentifierRules(
        "device id", maximumLength: maximumLength, punctuation: "-.+%_#*?!(),=@$'", code: .deviceInvalidID)

    public init(_ rawValue: String) throws(WardenError) {
        self.rawValue = try Self.rules.validate(rawValue)
    }
}
