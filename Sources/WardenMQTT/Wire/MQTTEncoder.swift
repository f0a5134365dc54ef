public import NIOCore

/// Turns packets into bytes for `version`: the fixed header, the remaining length in its shortest form, the body.
public enum MQTTEncoder {
    /// The longest string or binary value a packet can carry: its length is two bytes.
    public static let maximumStringBytes = 65_535

    /// Appends `packet` to `buffer`.
    /// Appends nothing and throws when a string, binary value or the whole packet is longer than the wire
    /// can say: values decoded from the wire always fit; values the server builds may not.
    public static func encode(_ packet: MQTTPacket, version: ProtocolVersion, into buffer: inout ByteBuffer)
        throws(MQTTEncodingError)
    {
        var body = ByteBuffer()
        var flags = packet.type.requiredFlags
        switch packet {
        case .connect(let connect): try connect.encode(&body)
        case .connack(let connack): try connack.encode(&body, version: version)
        case .publish(let publish):
            flags = publish.flags
            try publish.encode(&body, version: version)
        case .publishAck(let ack): try ack.encode(&body, version: version)
        case .subscribe(let subscribe): try subscribe.encode(&body, version: version)
        case .suback(let suback): try suback.encode(&body, type: .suback, version: version)
        case .unsubscribe(let unsubscribe): try unsubscribe.encode(&body, version: version)
        case .unsuback(let unsuback): try unsuback.encode(&body, type: .unsuback, version: version)
        case .pingreq, .pingresp: break
        case .disconnect(let packet), .auth(let packet): try packet.encode(&body, version: version)
        }
        // The remaining length is a Variable Byte Integer of at most four bytes ([MQTT-1.5.5]).
        guard body.readableBytes <= 268_435_455 else { throw MQTTEncodingError("packet", length: body.readableBytes) }
        buffer.writeInteger(packet.type.rawValue << 4 | flags)
        buffer.writeMQTTVariableInteger(body.readableBytes)
        buffer.writeImmutableBuffer(body)
    }
}
