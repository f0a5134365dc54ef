public import NIOCore

/// Turns bytes into packets: a pure function of the buffer, the protocol version and explicit limits.
///
/// `decode` returns nil, consuming nothing, until a whole packet is buffered; then it consumes exactly one
/// packet. A packet larger than the limit is refused as soon as its fixed header is read, before its body is
/// buffered. Errors say which rule broke and how to react (`MQTTDecodingError.kind`).
public enum MQTTDecoder {
    /// Decodes the next packet a client sent to the server. `version` is nil until CONNECT has been read:
    /// then only CONNECT is accepted (3.1.1 and 5.0 [MQTT-3.1.0-1]).
    public static func decode(
        _ buffer: inout ByteBuffer, version: ProtocolVersion?, limits: DecodingLimits
    ) throws(MQTTDecodingError) -> MQTTPacket? {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        let length: Int
        let lengthBytes: Int
        switch buffer.peekMQTTVariableInteger(at: 1) {
        case .incomplete: return nil
        case .invalid(let rule): throw .malformed("remaining_length." + rule)
        case .complete(let value, let count):
            length = value
            lengthBytes = count
        }
        let total = 1 + lengthBytes + length
        guard total <= limits.maximumPacketSize else {
            throw MQTTDecodingError(.packetTooLarge, "packet.too_large", limit: limits.maximumPacketSize, value: total)
        }
        guard buffer.readableBytes >= total else { return nil }
        guard let type = PacketType(rawValue: first >> 4) else { throw .malformed("fixed_header.reserved_type") }
        let flags = first & 0x0F
        guard type == .publish || flags == type.requiredFlags else {
            throw .malformed("fixed_header.reserved_flags")  // [MQTT-2.2.2-1], [MQTT-2.2.2-2]
        }
        let effectiveVersion: ProtocolVersion
        if let version {
            effectiveVersion = version
        } else {
            guard type == .connect else { throw .protocolError("first_packet.not_connect") }
            effectiveVersion = .v5
        }
        buffer.moveReaderIndex(forwardBy: 1 + lengthBytes)
        guard var body = buffer.readSlice(length: length) else { throw .malformed("body.truncated") }
        return try decodeBody(type, flags: flags, &body, version: effectiveVersion, limits: limits)
    }

    private static func decodeBody(
        _ type: PacketType, flags: UInt8, _ body: inout ByteBuffer, version: ProtocolVersion, limits: DecodingLimits
    ) throws(MQTTDecodingError) -> MQTTPacket {
        switch type {
        case .connect: return .connect(try ConnectPacket.decode(&body, limits: limits))
        case .connack: return .connack(try ConnAckPacket.decode(&body, version: version, limits: limits))
        case .publish: return .publish(try PublishPacket.decode(&body, flags: flags, version: version, limits: limits))
        case .puback:
            return .publishAck(try PublishAckPacket.decode(&body, kind: .puback, version: version, limits: limits))
        case .pubrec:
            return .publishAck(try PublishAckPacket.decode(&body, kind: .pubrec, version: version, limits: limits))
        case .pubrel:
            return .publishAck(try PublishAckPacket.decode(&body, kind: .pubrel, version: version, limits: limits))
        case .pubcomp:
            return .publishAck(try PublishAckPacket.decode(&body, kind: .pubcomp, version: version, limits: limits))
        case .subscribe: return .subscribe(try SubscribePacket.decode(&body, version: version, limits: limits))
        case .suback: return .suback(try SubAckPacket.decode(&body, type: .suback, version: version, limits: limits))
        case .unsubscribe: return .unsubscribe(try UnsubscribePacket.decode(&body, version: version, limits: limits))
        case .unsuback:
            return .unsuback(try SubAckPacket.decode(&body, type: .unsuback, version: version, limits: limits))
        case .pingreq, .pingresp:
            guard body.readableBytes == 0 else { throw .malformed("ping.not_empty") }
            return type == .pingreq ? .pingreq : .pingresp
        case .disconnect:
            return .disconnect(try ReasonPacket.decode(&body, type: .disconnect, version: version, limits: limits))
        case .auth:
            // Type 15 is reserved in 3.1.1.
            guard version == .v5 else { throw .malformed("fixed_header.reserved_type") }
            return .auth(try ReasonPacket.decode(&body, type: .auth, version: version, limits: limits))
        }
    }
}
