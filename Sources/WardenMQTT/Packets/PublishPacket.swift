public import NIOCore

/// PUBLISH: an application message (3.1.1 §3.3, 5.0 §3.3). The payload stays a ByteBuffer slice: no copy.
public struct PublishPacket: Sendable, Hashable {
    public var dup: Bool
    public var qos: QoS
    public var retain: Bool
    /// Empty only in 5.0 when `properties.topicAlias` names an established alias.
    public var topic: String
    /// Present exactly when QoS > 0.
    public var packetID: UInt16?
    /// 5.0 PUBLISH properties.
    public var properties: Properties
    public var payload: ByteBuffer

    public init(
        dup: Bool = false, qos: QoS, retain: Bool = false, topic: String, packetID: UInt16? = nil,
        properties: Properties = Properties(), payload: ByteBuffer
    ) {
        self.dup = dup
        self.qos = qos
        self.retain = retain
        self.topic = topic
        self.packetID = packetID
        self.properties = properties
        self.payload = payload
    }

    static func decode(_ body: inout ByteBuffer, flags: UInt8, version: ProtocolVersion, limits: DecodingLimits)
        throws(MQTTDecodingError) -> PublishPacket
    {
        guard let qos = QoS(rawValue: (flags >> 1) & 0x03) else { throw .malformed("publish.qos_3") }  // [MQTT-3.3.1-4]
        let dup = flags & 0x08 != 0
        guard !(dup && qos == .atMostOnce) else { throw .malformed("publish.dup_with_qos_0") }  // [MQTT-3.3.1-2]
        let topic = try body.readMQTTString()
        let packetID = qos == .atMostOnce ? nil : try body.readMQTTPacketIdentifier()
        let properties =
            version == .v5 ? try Properties.read(from: &body, place: .packet(.publish), limits: limits) : Properties()
        if topic.isEmpty {
            // 5.0 allows an empty Topic Name only with a Topic Alias (§3.3.2.3.4); 3.1.1 never ([MQTT-4.7.3-1]).
            guard version == .v5, properties.topicAlias != nil else { throw .protocolError("publish.empty_topic") }
        } else if !TopicName.isValid(topic) {
            throw .malformed("publish.wildcard_in_topic")  // [MQTT-3.3.2-2]
        }
        try TopicName.checkLevels(topic, limit: limits.maximumTopicLevels)
        guard properties.subscriptionIdentifiers.isEmpty else {
            throw .protocolError("publish.subscription_identifier_from_client")  // [MQTT-3.3.4-6]
        }
        return PublishPacket(
            dup: dup, qos: qos, retain: flags & 0x01 != 0, topic: topic, packetID: packetID, properties: properties,
            payload: body.readSlice(length: body.readableBytes) ?? ByteBuffer())
    }

    var flags: UInt8 {
        (dup ? 0x08 : 0) | qos.rawValue << 1 | (retain ? 0x01 : 0)
    }

    func encode(_ body: inout ByteBuffer, version: ProtocolVersion) throws(MQTTEncodingError) {
        try body.writeMQTTString(topic)
        if let packetID { body.writeInteger(packetID) }
        if version == .v5 { try properties.write(to: &body) }
        body.writeImmutableBuffer(payload)
    }
}
