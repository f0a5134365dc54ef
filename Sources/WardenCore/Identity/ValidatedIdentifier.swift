/// An identifier that exists only in valid form: its init checks the rules, so holders never re-check.
///
/// Conformers get `description`, ordering and Codable as the bare string; decoding re-validates.
public protocol ValidatedIdentifier: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// The identifier exactly as registered.
    var rawValue: String { get }
    /// Validates `rawValue`; the error names what breaks the rules.
    init(_ rawValue: String) throws(WardenError)
}

extension ValidatedIdentifier {
    public var description: String { rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        self = try Self(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A kind of identifier whose only rules are its `IdentifierRules` (group, policy, CA and user names).
public protocol IdentifierKind: Sendable {
    static var rules: IdentifierRules { get }
}

/// An identifier of `Kind`, valid by `Kind.rules`: one type for every name that needs nothing more.
public struct RuledIdentifier<Kind: IdentifierKind>: ValidatedIdentifier {
    public let rawValue: String

    /// The rules, for the OpenAPI document and error messages.
    public static var rules: IdentifierRules { Kind.rules }

    public init(_ rawValue: String) throws(WardenError) {
        self.rawValue = try Kind.rules.validate(rawValue)
    }
}
