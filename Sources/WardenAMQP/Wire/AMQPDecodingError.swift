/// Why bytes are not acceptable AMQP, with the error condition the peer is told when the connection closes.
public struct AMQPDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The condition for the `close` (or `detach`) frame's error (§2.8.15).
    public let condition: AMQPCondition
    /// A stable name for the rule broken (`list.count_exceeds_bytes`), for logs and metrics labels.
    public let rule: String
    /// The limit involved, when there is one.
    public let limit: Int?

    init(_ condition: AMQPCondition, _ rule: String, limit: Int? = nil) {
        self.condition = condition
        self.rule = rule
        self.limit = limit
    }

    public var description: String {
        "\(condition.rawValue): \(rule)" + (limit.map { " (limit \($0))" } ?? "")
    }

    /// Bytes that break the type system's encoding.
    static func malformed(_ rule: String, limit: Int? = nil) -> Self {
        Self(.decodeError, rule, limit: limit)
    }

    /// Well-typed values in a field that cannot hold them (a performative without a mandatory field).
    static func invalidField(_ rule: String) -> Self {
        Self(.invalidField, rule)
    }

    /// A frame that breaks the framing rules (§2.3): the connection cannot continue.
    static func framing(_ rule: String, limit: Int? = nil) -> Self {
        Self(.framingError, rule, limit: limit)
    }
}

/// An AMQP error condition (§2.8.15–2.8.18): a symbol, with the ones this hub sends named.
public struct AMQPCondition: Sendable, Hashable, RawRepresentable {
    public var rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public static let internalError = Self(rawValue: "amqp:internal-error")
    public static let notFound = Self(rawValue: "amqp:not-found")
    public static let unauthorizedAccess = Self(rawValue: "amqp:unauthorized-access")
    public static let decodeError = Self(rawValue: "amqp:decode-error")
    public static let resourceLimitExceeded = Self(rawValue: "amqp:resource-limit-exceeded")
    public static let notAllowed = Self(rawValue: "amqp:not-allowed")
    public static let invalidField = Self(rawValue: "amqp:invalid-field")
    public static let notImplemented = Self(rawValue: "amqp:not-implemented")
    public static let frameSizeTooSmall = Self(rawValue: "amqp:frame-size-too-small")
    public static let framingError = Self(rawValue: "amqp:connection:framing-error")
    public static let connectionForced = Self(rawValue: "amqp:connection:forced")
    public static let unattachedHandle = Self(rawValue: "amqp:session:unattached-handle")
    public static let handleInUse = Self(rawValue: "amqp:session:handle-in-use")
    public static let windowViolation = Self(rawValue: "amqp:session:window-violation")
    public static let messageSizeExceeded = Self(rawValue: "amqp:link:message-size-exceeded")
    public static let detachForced = Self(rawValue: "amqp:link:detach-forced")
    public static let linkStolen = Self(rawValue: "amqp:link:stolen")
    public static let transferLimitExceeded = Self(rawValue: "amqp:link:transfer-limit-exceeded")
}
