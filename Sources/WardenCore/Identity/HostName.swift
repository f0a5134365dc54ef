/// A DNS host name a tenant's devices put in their SAS tokens and usernames (`HostName=` of a connection string).
///
/// Lower-cased on input (host names are case-insensitive); labels of letters, digits and `-`, at most 253 characters.
public struct HostName: ValidatedIdentifier {
    /// `localhost`, the default hub host name.
    public static let localhost = HostName(unchecked: "localhost")

    public let rawValue: String

    private init(unchecked: String) { self.rawValue = unchecked }

    public init(_ rawValue: String) throws(WardenError) {
        let lowered = rawValue.lowercased()
        guard !lowered.isEmpty, lowered.utf8.count <= 253 else {
            throw WardenError(.tenantInvalidHostName, "A host name has 1 to 253 characters.")
        }
        for label in lowered.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.count <= 63, !label.hasPrefix("-"), !label.hasSuffix("-"),
                label.utf8.allSatisfy({
                    $0 == UInt8(ascii: "-") || ($0 < 0x80 && Character(UnicodeScalar($0)).isLetter)
                        || ($0 >= 0x30 && $0 <= 0x39)
                })
            else {
                throw WardenError(
                    .tenantInvalidHostName,
                    "'\(rawValue)' is not a valid host name: each dot-separated label needs 1 to 63 letters, "
                        + "digits or '-', and may not start or end with '-'.")
            }
        }
        self.rawValue = lowered
    }
}
