import NIOCore

/// SUBACK and UNSUBACK: a packet id and one reason code per filter (3.1.1 UNSUBACK has none).
public struct SubAckPacket: Sendable, Hashable {
    public var packetID: UInt16
    public var properties: Properties
    public var reasonCodes: [ReasonCode]

    public init(packetID: UInt16, properties: Properties = Properties(), reasonCodes: [ReasonCode]) {
        self.packetID = packetID
        self.properties = properties
        self.reasonCodes = reasonCodes
    }

    static func decode(_ body: inout ByteBuffer, type: PacketType, version: ProtocolVersion, limits: DecodingLimits)
        throws(MQTTDecodingError) -> SubAckPacket
    {
        let packetID = try body.readMQTTPacketIdentifier()
        let properties =
            version == .v5 ? try Properties.read(from: &body, place: .packet(type), limits: limits) : Properties()
        // A 3.1.1 UNSUBACK is only the packet identifier (3.1.1 §3.11.3: no payload).
        guard type == .suback || version == .v5 || body.readableBytes == 0 else {
            throw .malformed("unsuback.trailing_bytes")
        }
        var codes: [ReasonCode] = []
        while body.readableBytes > 0 { codes.append(ReasonCode(rawValue: try body.readMQTTByte())) }
        return SubAckPacket(packetID: packetID, properties: properties, reasonCodes: codes)
    }

    func encode(_ body: inout ByteBuffer, type: PacketType, version: ProtocolVersion) throws(MQTTEncodingError) {
        body.writeInteger(packetID)
        if version == .v5 { try properties.write(to: &body) }
        guard type == .suback || version == .v5 else { return }
        for code in reasonCodes { body.writeInteger(code.rawValue) }
    }
}
