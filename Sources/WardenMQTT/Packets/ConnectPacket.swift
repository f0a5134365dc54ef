import NIOCore

/// CONNECT: the first packet of every connection (3.1.1 §3.1, 5.0 §3.1).
public struct ConnectPacket: Sendable, Hashable {
    /// A Will Message, published by the server if the connection ends without DISCONNECT.
    public struct Will: Sendable, Hashable {
        public var topic: String
        public var payload: [UInt8]
        public var qos: QoS
        public var retain: Bool
        /// 5.0 Will Properties.
        public var properties: Properties

        public init(topic: String, payload: [UInt8], qos: QoS, retain: Bool, properties: Properties = Properties()) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
            self.properties = properties
        }
    }

    public var protocolVersion: ProtocolVersion
    /// 3.1.1 Clean Session / 5.0 Clean Start.
    public var cleanStart: Bool
    /// Seconds; 0 turns keep-alive off.
    public var keepAlive: UInt16
    public var clientID: String
    public var will: Will?
    public var username: String?
    public var password: [UInt8]?
    /// 5.0 CONNECT properties.
    public var properties: Properties

    public init(
        protocolVersion: ProtocolVersion, cleanStart: Bool, keepAlive: UInt16, clientID: String, will: Will? = nil,
        username: String? = nil, password: [UInt8]? = nil, properties: Properties = Properties()
    ) {
        self.protocolVersion = protocolVersion
        self.cleanStart = cleanStart
        self.keepAlive = keepAlive
        self.clientID = clientID
        self.will = will
        self.username = username
        self.password = password
        self.properties = properties
    }

    static func decode(_ body: inout ByteBuffer, limits: DecodingLimits) throws(MQTTDecodingError) -> ConnectPacket {
        let name = try body.readMQTTString()
        let level = try body.readMQTTByte()
        // An unknown name or level gets CONNACK 0x01 / 0x84 before the close (3.1.1 [MQTT-3.1.2-2], 5.0 [MQTT-3.1.2-2]).
        guard name == "MQTT", let version = ProtocolVersion(rawValue: level) else {
            // total: widens a UInt8.
            throw MQTTDecodingError(.unsupportedProtocolVersion, "connect.protocol", value: Int(level))
        }
        let flags = try body.readMQTTByte()
        guard flags & 0x01 == 0 else { throw .malformed("connect.reserved_flag") }  // [MQTT-3.1.2-3]
        let hasUsername = flags & 0x80 != 0
        let hasPassword = flags & 0x40 != 0
        let willRetain = flags & 0x20 != 0
        let willQoSBits = (flags >> 3) & 0x03
        let hasWill = flags & 0x04 != 0
        // [MQTT-3.1.2-14]
        guard let willQoS = QoS(rawValue: willQoSBits) else { throw .malformed("connect.will_qos_3") }
        if !hasWill, willQoSBits != 0 || willRetain {
            throw .malformed("connect.will_flags_without_will")  // [MQTT-3.1.2-13], [MQTT-3.1.2-15]
        }
        if version == .v311, hasPassword, !hasUsername {
            throw .malformed("connect.password_without_username")  // 3.1.1 [MQTT-3.1.2-22]
        }
        let keepAlive = try body.readMQTTUInt16()
        let properties =
            version == .v5 ? try Properties.read(from: &body, place: .packet(.connect), limits: limits) : Properties()
        let clientID = try body.readMQTTString()
        var will: Will?
        if hasWill {
            let willProperties =
                version == .v5 ? try Properties.read(from: &body, place: .will, limits: limits) : Properties()
            let topic = try body.readMQTTString()
            guard TopicName.isValid(topic) else { throw .malformed("connect.will_topic_invalid") }
            try TopicName.checkLevels(topic, limit: limits.maximumTopicLevels)
            will = Will(
                topic: topic, payload: try body.readMQTTBinary(), qos: willQoS, retain: willRetain,
                properties: willProperties)
        }
        let username = hasUsername ? try body.readMQTTString() : nil
        let password = hasPassword ? try body.readMQTTBinary() : nil
        guard body.readableBytes == 0 else { throw .malformed("connect.trailing_bytes") }
        return ConnectPacket(
            protocolVersion: version, cleanStart: flags & 0x02 != 0, keepAlive: keepAlive, clientID: clientID,
            will: will,
            username: username, password: password, properties: properties)
    }

    func encode(_ body: inout ByteBuffer) throws(MQTTEncodingError) {
        try body.writeMQTTString("MQTT")
        body.writeInteger(protocolVersion.rawValue)
        var flags: UInt8 = cleanStart ? 0x02 : 0
        if let will {
            flags |= 0x04 | will.qos.rawValue << 3 | (will.retain ? 0x20 : 0)
        }
        if password != nil { flags |= 0x40 }
        if username != nil { flags |= 0x80 }
        body.writeInteger(flags)
        body.writeInteger(keepAlive)
        if protocolVersion == .v5 { try properties.write(to: &body) }
        try body.writeMQTTString(clientID)
        if let will {
            if protocolVersion == .v5 { try will.properties.write(to: &body) }
            try body.writeMQTTString(will.topic)
            try body.writeMQTTBinary(will.payload)
        }
        if let username { try body.writeMQTTString(username) }
        if let password { try body.writeMQTTBinary(password) }
    }
}
