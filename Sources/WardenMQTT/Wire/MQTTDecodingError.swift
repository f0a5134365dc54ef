/// Why bytes are not an acceptable MQTT packet, with the reaction the specification prescribes.
///
/// `kind` separates a Malformed Packet (5.0 reason 0x81) from a Protocol Error (0x82) and from the cases
/// that get a CONNACK refusal rather than a bare close. `limit` and `value` say what was exceeded.
public struct MQTTDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The family of violation, which decides the reaction.
    public enum Kind: Sendable, Hashable {
        /// Bytes that break the wire format: close the connection (5.0: DISCONNECT 0x81 first).
        case malformed
        /// Well-formed bytes that break a protocol rule: close (5.0: DISCONNECT 0x82 first).
        case protocolError
        /// CONNECT with a protocol name or level we do not speak: CONNACK 0x01 (3.1.1) or 0x84 (5.0), close.
        case unsupportedProtocolVersion
        /// Larger than the negotiated maximum: close (5.0: DISCONNECT 0x95).
        case packetTooLarge
    }

    /// The family of violation.
    public let kind: Kind
    /// A stable name for the rule broken (`remaining_length.too_long`), for logs and metrics labels.
    public let rule: String
    /// The limit involved, when there is one.
    public let limit: Int?
    /// The value seen, when it is a number.
    public let value: Int?

    init(_ kind: Kind, _ rule: String, limit: Int? = nil, value: Int? = nil) {
        self.kind = kind
        self.rule = rule
        self.limit = limit
        self.value = value
    }

    /// The MQTT 5.0 reason code for this error.
    public var reasonCode: ReasonCode {
        switch kind {
        case .malformed: .malformedPacket
        case .protocolError: .protocolError
        case .unsupportedProtocolVersion: .unsupportedProtocolVersion
        case .packetTooLarge: .packetTooLarge
        }
    }

    public var description: String {
        var text = "\(kind): \(rule)"
        if let limit { text += " (limit \(limit)" + (value.map { ", saw \($0)" } ?? "") + ")" }
        return text
    }

    static func malformed(_ rule: String, limit: Int? = nil, value: Int? = nil) -> Self {
        Self(.malformed, rule, limit: limit, value: value)
    }

    static func protocolError(_ rule: String) -> Self {
        Self(.protocolError, rule)
    }
}
