public import NIOCore

extension MQTTEncoder {
    /// Appends `packet` to `buffer` within the client's Maximum Packet Size (5.0 §3.1.2.11.4, the whole packet).
    /// A packet that does not fit is sent without its Reason String and User Properties, which the server must
    /// leave out rather than exceed that size ([MQTT-3.1.2-25] and, per packet, e.g. [MQTT-3.4.2-2],
    /// [MQTT-3.14.2-3]). Returns false, appending nothing, when even that does not fit: the caller drops a
    /// PUBLISH and closes rather than send a CONNACK or DISCONNECT.
    public static func encode(
        _ packet: MQTTPacket, version: ProtocolVersion, into buffer: inout ByteBuffer, maximumPacketSize: Int
    ) throws(MQTTEncodingError) -> Bool {
        let start = buffer.writerIndex
        try encode(packet, version: version, into: &buffer)
        guard buffer.writerIndex - start > maximumPacketSize else { return true }
        buffer.moveWriterIndex(to: start)
        guard let shorter = packet.withoutDiagnostics else { return false }
        try encode(shorter, version: version, into: &buffer)
        guard buffer.writerIndex - start > maximumPacketSize else { return true }
        buffer.moveWriterIndex(to: start)
        return false
    }
}

extension MQTTPacket {
    /// The packet without the properties that only explain (Reason String, User Properties); nil when it has
    /// none, or when it is an application message, whose properties belong to the publisher.
    var withoutDiagnostics: MQTTPacket? {
        func stripped(_ properties: Properties) -> Properties? {
            guard properties.reasonString != nil || !properties.userProperties.isEmpty else { return nil }
            var properties = properties
            properties.reasonString = nil
            properties.userProperties = []
            return properties
        }
        switch self {
        case .connack(var packet):
            guard let properties = stripped(packet.properties) else { return nil }
            packet.properties = properties
            return .connack(packet)
        case .publishAck(var packet):
            guard let properties = stripped(packet.properties) else { return nil }
            packet.properties = properties
            return .publishAck(packet)
        case .suback(var packet), .unsuback(var packet):
            guard let properties = stripped(packet.properties) else { return nil }
            packet.properties = properties
            return type == .suback ? .suback(packet) : .unsuback(packet)
        case .disconnect(var packet), .auth(var packet):
            guard let properties = stripped(packet.properties) else { return nil }
            packet.properties = properties
            return type == .disconnect ? .disconnect(packet) : .auth(packet)
        case .connect, .publish, .subscribe, .unsubscribe, .pingreq, .pingresp:
            return nil
        }
    }
}
