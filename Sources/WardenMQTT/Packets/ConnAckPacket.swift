import NIOCore

/// CONNACK: the server's answer to CONNECT. In 3.1.1 `reasonCode` carries the return code (0–5).
public struct ConnAckPacket: Sendable, Hashable {
    public var sessionPresent: Bool
    public var reasonCode: ReasonCode
    /// 5.0 CONNACK properties.
    public var properties: Properties

    public init(sessionPresent: Bool, reasonCode: ReasonCode, properties: Properties = Properties()) {
        self.sessionPresent = sessionPresent
        self.reasonCode = reasonCode
        self.properties = properties
    }

    /// 3.1.1 return codes (§3.2.2.3).
    public enum ReturnCode {
        public static let unacceptableProtocolVersion = ReasonCode(rawValue: 0x01)
        public static let identifierRejected = ReasonCode(rawValue: 0x02)
        public static let serverUnavailable = ReasonCode(rawValue: 0x03)
        public static let badUsernameOrPassword = ReasonCode(rawValue: 0x04)
        public static let notAuthorized = ReasonCode(rawValue: 0x05)
    }

    static func decode(_ body: inout ByteBuffer, version: ProtocolVersion, limits: DecodingLimits)
        throws(MQTTDecodingError)
        -> ConnAckPacket
    {
        let flags = try body.readMQTTByte()
        guard flags & 0xFE == 0 else { throw .malformed("connack.reserved_flags") }
        let code = ReasonCode(rawValue: try body.readMQTTByte())
        let properties =
            version == .v5 ? try Properties.read(from: &body, place: .packet(.connack), limits: limits) : Properties()
        guard body.readableBytes == 0 else { throw .malformed("connack.trailing_bytes") }
        return ConnAckPacket(sessionPresent: flags & 0x01 != 0, reasonCode: code, properties: properties)
    }

    func encode(_ body: inout ByteBuffer, version: ProtocolVersion) throws(MQTTEncodingError) {
        // total: 0 or 1.
        body.writeInteger(UInt8(sessionPresent ? 1 : 0))
        body.writeInteger(reasonCode.rawValue)
        if version == .v5 { try properties.write(to: &body) }
    }
}
