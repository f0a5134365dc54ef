import NIOCore

/// DISCONNECT and AUTH: an optional reason code and properties (5.0 §3.14, §3.15). A 3.1.1 DISCONNECT is empty.
public struct ReasonPacket: Sendable, Hashable {
    public var reasonCode: ReasonCode
    public var properties: Properties

    public init(reasonCode: ReasonCode = .success, properties: Properties = Properties()) {
        self.reasonCode = reasonCode
        self.properties = properties
    }

    static func decode(_ body: inout ByteBuffer, type: PacketType, version: ProtocolVersion, limits: DecodingLimits)
        throws(MQTTDecodingError) -> ReasonPacket
    {
        var packet = ReasonPacket()
        if version == .v5, body.readableBytes > 0 {
            packet.reasonCode = ReasonCode(rawValue: try body.readMQTTByte())
            if body.readableBytes > 0 {
                packet.properties = try Properties.read(from: &body, place: .packet(type), limits: limits)
            }
        }
        guard body.readableBytes == 0 else { throw .malformed("\(type).trailing_bytes") }
        return packet
    }

    func encode(_ body: inout ByteBuffer, version: ProtocolVersion) throws(MQTTEncodingError) {
        guard version == .v5, reasonCode != .success || !properties.isEmpty else { return }
        body.writeInteger(reasonCode.rawValue)
        if !properties.isEmpty { try properties.write(to: &body) }
    }
}
