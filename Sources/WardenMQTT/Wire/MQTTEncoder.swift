public import NIOCore

/// Turns packets into bytes for `version`: the fixed header, the remaining length in its shortest form, the body.
public enum MQTTEncoder {
    /// The longest string or binary value a packet can carry: its length is two bytes.
    public static let maximumStringBytes = 65_535

    /// Appends `packet` to `buffer`.
    /// Appends nothing and throws when a string, binary value or the whole packet is longer than the wire
    /// can say: values decoded from the wire always fit; values the server builds may not.
    ///
    /// The body is written in place, behind room for the longest remaining length, and moved back over the room
    /// its length does not need (one `memmove`): no buffer of its own, which grown by doubling and copied again
    /// was, for 4 KiB payloads, most of the encoder's cost.
    public static func encode(_ packet: MQTTPacket, version: ProtocolVersion, into buffer: inout ByteBuffer)
        throws(MQTTEncodingError)
    {
        let start = buffer.writerIndex
        buffer.writeRepeatingByte(0, count: 1 + maximumLengthBytes)
        let bodyStart = buffer.writerIndex
        var flags = packet.type.requiredFlags
        do {
            switch packet {
            case .connect(let connect): try connect.encode(&buffer)
            case .connack(let connack): try connack.encode(&buffer, version: version)
            case .publish(let publish):
                flags = publish.flags
                try publish.encode(&buffer, version: version)
            case .publishAck(let ack): try ack.encode(&buffer, version: version)
            case .subscribe(let subscribe): try subscribe.encode(&buffer, version: version)
            case .suback(let suback): try suback.encode(&buffer, type: .suback, version: version)
            case .unsubscribe(let unsubscribe): try unsubscribe.encode(&buffer, version: version)
            case .unsuback(let unsuback): try unsuback.encode(&buffer, type: .unsuback, version: version)
            case .pingreq, .pingresp: break
            case .disconnect(let packet), .auth(let packet): try packet.encode(&buffer, version: version)
            }
        } catch {
            buffer.moveWriterIndex(to: start)
            throw error
        }
        let length = buffer.writerIndex - bodyStart
        // The remaining length is a Variable Byte Integer of at most four bytes ([MQTT-1.5.5]).
        guard length <= 268_435_455 else {
            buffer.moveWriterIndex(to: start)
            throw MQTTEncodingError("packet", length: length)
        }
        buffer.setInteger(packet.type.rawValue << 4 | flags, at: start)
        let finalBodyStart = start + 1 + buffer.setMQTTVariableInteger(length, at: start + 1)
        guard finalBodyStart < bodyStart else { return }
        // Within the written bytes, so it cannot fail; if it did, nothing is appended rather than a wrong packet.
        guard (try? buffer.copyBytes(at: bodyStart, to: finalBodyStart, length: length)) == length else {
            buffer.moveWriterIndex(to: start)
            throw MQTTEncodingError("packet", length: length)
        }
        buffer.moveWriterIndex(to: finalBodyStart + length)
    }

    /// The most bytes a remaining length takes.
    static let maximumLengthBytes = 4
}
