import NIOCore

/// SUBSCRIBE (3.1.1 §3.8, 5.0 §3.8).
public struct SubscribePacket: Sendable, Hashable {
    /// One requested subscription and its options.
    public struct Subscription: Sendable, Hashable {
        /// 5.0 Retain Handling: when retained messages are sent at subscribe time.
        public enum RetainHandling: UInt8, Sendable, Hashable {
            case sendOnSubscribe = 0
            case sendOnNewSubscribe = 1
            case doNotSend = 2
        }

        public var filter: TopicFilter
        public var qos: QoS
        public var noLocal: Bool
        public var retainAsPublished: Bool
        public var retainHandling: RetainHandling

        public init(
            filter: TopicFilter, qos: QoS, noLocal: Bool = false, retainAsPublished: Bool = false,
            retainHandling: RetainHandling = .sendOnSubscribe
        ) {
            self.filter = filter
            self.qos = qos
            self.noLocal = noLocal
            self.retainAsPublished = retainAsPublished
            self.retainHandling = retainHandling
        }
    }

    public var packetID: UInt16
    public var properties: Properties
    public var subscriptions: [Subscription]

    public init(packetID: UInt16, properties: Properties = Properties(), subscriptions: [Subscription]) {
        self.packetID = packetID
        self.properties = properties
        self.subscriptions = subscriptions
    }

    static func decode(_ body: inout ByteBuffer, version: ProtocolVersion, limits: DecodingLimits)
        throws(MQTTDecodingError) -> SubscribePacket
    {
        let packetID = try body.readMQTTPacketIdentifier()
        let properties =
            version == .v5 ? try Properties.read(from: &body, place: .packet(.subscribe), limits: limits) : Properties()
        let subscriptions = try body.readMQTTFilters(of: "subscribe", limits: limits) {
            filter, body throws(MQTTDecodingError) in
            let options = try body.readMQTTByte()
            // 3.1.1 [MQTT-3-8.3-4], 5.0 [MQTT-3.8.3-4]
            guard let qos = QoS(rawValue: options & 0x03) else { throw .malformed("subscribe.qos_3") }
            var subscription = Subscription(filter: filter, qos: qos)
            switch version {
            case .v311:
                guard options & 0xFC == 0 else { throw .malformed("subscribe.reserved_bits") }  // 3.1.1 [MQTT-3-8.3-4]
            case .v5:
                guard options & 0xC0 == 0 else { throw .malformed("subscribe.reserved_bits") }  // 5.0 [MQTT-3.8.3-5]
                guard let handling = Subscription.RetainHandling(rawValue: (options >> 4) & 0x03) else {
                    throw .protocolError("subscribe.retain_handling_3")
                }
                subscription.noLocal = options & 0x04 != 0
                subscription.retainAsPublished = options & 0x08 != 0
                subscription.retainHandling = handling
                if subscription.noLocal, filter.shareName != nil {
                    throw .protocolError("subscribe.no_local_on_shared")  // [MQTT-3.8.3-4]
                }
            }
            return subscription
        }
        guard properties.subscriptionIdentifiers.count <= 1 else { throw .protocolError("subscribe.many_identifiers") }
        return SubscribePacket(packetID: packetID, properties: properties, subscriptions: subscriptions)
    }

    func encode(_ body: inout ByteBuffer, version: ProtocolVersion) throws(MQTTEncodingError) {
        body.writeInteger(packetID)
        if version == .v5 { try properties.write(to: &body) }
        for subscription in subscriptions {
            try body.writeMQTTString(subscription.filter.rawValue)
            var options = subscription.qos.rawValue
            if version == .v5 {
                options |= (subscription.noLocal ? 0x04 : 0) | (subscription.retainAsPublished ? 0x08 : 0)
                options |= subscription.retainHandling.rawValue << 4
            }
            body.writeInteger(options)
        }
    }
}
