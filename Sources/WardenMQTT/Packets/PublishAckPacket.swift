import NIOCore

/// PUBACK, PUBREC, PUBREL and PUBCOMP: one shape, told apart by `kind` (3.1.1 §3.4–3.7, 5.0 §3.4–3.7).
public struct PublishAckPacket: Sendable, Hashable {
    /// Which of the four acknowledgements this is.
    public enum Kind: Sendable, Hashable {
        case puback, pubrec, pubrel, pubcomp

        var packetType: PacketType {
            switch self {
            case .puback: .puback
            case .pubrec: .pubrec
            case .pubrel: .pubrel
            case .pubcomp: .pubcomp
            }
        }
    }

    public var kind: Kind
    public var packetID: UInt16
    /// 5.0 only; 3.1.1 acknowledgements always mean success.
    public var reasonCode: ReasonCode
    public var properties: Properties

    public init(
        _ kind: Kind, packetID: UInt16, reasonCode: ReasonCode = .success, properties: Properties = Properties()
    ) {
        self.kind = kind
        self.packetID = packetID
        self.reasonCode = reasonCode
        self.properties = properties
    }

    static func decode(_ body: inout ByteBuffer, kind: Kind, version: ProtocolVersion, limits: DecodingLimits)
        throws(MQTTDecodingError) -> PublishAckPacket
    {
        let packetID = try body.readMQTTPacketIdentifier()
        var packet = PublishAckPacket(kind, packetID: packetID)
        // 5.0 §3.4.2.1: with remaining length 2 the reason is Success and there are no properties.
        if version == .v5, body.readableBytes > 0 {
            packet.reasonCode = ReasonCode(rawValue: try body.readMQTTByte())
            if body.readableBytes > 0 {
                packet.properties = try Properties.read(from: &body, place: .packet(kind.packetType), limits: limits)
            }
        }
        guard body.readableBytes == 0 else { throw .malformed("ack.trailing_bytes") }
        return packet
    }

    func encode(_ body: inout ByteBuffer, version: ProtocolVersion) throws(MQTTEncodingError) {
        body.writeInteger(packetID)
        guard version == .v5, reasonCode != .success || !properties.isEmpty else { return }
        body.writeInteger(reasonCode.rawValue)
        if !properties.isEmpty { try properties.write(to: &body) }
    }
}
