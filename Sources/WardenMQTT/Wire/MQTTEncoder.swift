public import NIOCore

/// Turns packets into bytes for `version`: the fixed header, the remaining length in its shortest form, the body.
public enum MQTTEncoder {
    /// Appends `packet` to `buffer`.
    public static func encode(_ packet: MQTTPacket, version: ProtocolVersion, into buffer: inout ByteBuffer) {
        var body = ByteBuffer()
        var flags = packet.type.requiredFlags
        switch packet {
        case .connect(let connect): connect.encode(&body)
        case .connack(let connack): connack.encode(&body, version: version)
        case .publish(let publish):
            flags = publish.flags
            publish.encode(&body, version: version)
        case .publishAck(let ack): ack.encode(&body, version: version)
        case .subscribe(let subscribe): subscribe.encode(&body, version: version)
        case .suback(let suback): suback.encode(&body, type: .suback, version: version)
        case .unsubscribe(let unsubscribe): unsubscribe.encode(&body, version: version)
        case .unsuback(let unsuback): unsuback.encode(&body, type: .unsuback, version: version)
        case .pingreq, .pingresp: break
        case .disconnect(let packet), .auth(let packet): packet.encode(&body, version: version)
        }
        buffer.writeInteger(packet.type.rawValue << 4 | flags)
        buffer.writeMQTTVariableInteger(body.readableBytes)
        buffer.writeImmutableBuffer(body)
    }
}
