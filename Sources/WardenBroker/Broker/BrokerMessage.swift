public import NIOCore
public import WardenMQTT

/// One application message as the broker routes it: immutable and shared by reference, so fan-out to many
/// subscribers costs no copies of the topic, properties or payload.
public final class BrokerMessage: Sendable {
    public let topic: String
    public let payload: ByteBuffer
    /// The QoS it was published with; each subscriber receives min(this, its subscription's QoS).
    public let qos: QoS
    public let retain: Bool
    /// The 5.0 properties forwarded to subscribers unaltered (§3.3.2.3): payload format, content type,
    /// response topic, correlation data, user properties. Never the publisher's topic alias.
    public let properties: Properties
    /// When the message stops being delivered (5.0 Message Expiry Interval), if ever.
    public let expiresAt: NIODeadline?
    /// The session that published it, for No Local; nil for messages the broker itself publishes.
    let publisher: SessionKey?
    /// For a message the hub owns (a cloud-to-device message): called once the device acknowledged it. Such a
    /// message is never stored with a session, and leaves the session when its connection ends, because the
    /// hub's queue holds it and delivers it again.
    let onDelivered: (@Sendable () -> Void)?

    public init(
        topic: String, payload: ByteBuffer, qos: QoS, retain: Bool, properties: Properties, receivedAt: NIODeadline,
        publisher: SessionKey? = nil
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties.isEmpty ? properties : Self.forwarded(properties)
        // total: widens a UInt32 interval; TimeAmount.seconds and NIODeadline.+ cap.
        self.expiresAt = properties.messageExpiryInterval.map { receivedAt + .seconds(Int64($0)) }
        self.publisher = publisher
        self.onDelivered = nil
    }

    /// A message the hub delivers at QoS 1 and settles itself: `onDelivered` runs when the device's PUBACK for
    /// it arrives.
    public init(
        hubTopic topic: String, payload: ByteBuffer, properties: Properties,
        onDelivered: @escaping @Sendable () -> Void
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = .atLeastOnce
        self.retain = false
        self.properties = properties
        self.expiresAt = nil
        self.publisher = nil
        self.onDelivered = onDelivered
    }

    private init(copying message: BrokerMessage, retain: Bool, properties: Properties, payload: ByteBuffer? = nil) {
        self.topic = message.topic
        self.payload = payload ?? message.payload
        self.qos = message.qos
        self.retain = retain
        self.properties = properties
        self.expiresAt = message.expiresAt
        self.publisher = message.publisher
        self.onDelivered = message.onDelivered
    }

    /// This message with `retain` replaced and `userProperties` appended to the forwarded properties (the hub
    /// stamps telemetry with them and turns RETAIN into a property in the Azure dialect).
    public func with(retain: Bool, appending userProperties: [UserProperty]) -> BrokerMessage {
        var properties = self.properties
        properties.userProperties += userProperties
        return BrokerMessage(copying: self, retain: retain, properties: properties)
    }

    /// This message with its payload in a buffer of its own, for keeping long (a retained message): a small
    /// payload's slice would hold the whole read buffer it arrived in. One that fills most of its buffer is kept.
    func withOwnPayload() -> BrokerMessage {
        guard payload.storageCapacity > 2 * payload.readableBytes else { return self }
        return BrokerMessage(
            copying: self, retain: retain, properties: properties,
            payload: ByteBufferAllocator().buffer(buffer: payload))
    }

    /// Only what §3.3.2.3 says the server forwards: a Will's Will Delay Interval and a publisher's Topic Alias
    /// or other properties never reach subscribers. (Empty properties skip this: each assignment would copy
    /// the shared empty storage.)
    private static func forwarded(_ properties: Properties) -> Properties {
        var forwarded = Properties()
        forwarded.payloadFormatIndicator = properties.payloadFormatIndicator
        forwarded.contentType = properties.contentType
        forwarded.responseTopic = properties.responseTopic
        forwarded.correlationData = properties.correlationData
        forwarded.userProperties = properties.userProperties
        return forwarded
    }

    /// Whether the message has expired at `now`.
    func isExpired(at now: NIODeadline) -> Bool {
        expiresAt.map { now >= $0 } ?? false
    }

    /// The PUBLISH a subscriber receives: its QoS and packet id, the remaining expiry interval (§3.3.2.3.3),
    /// and the subscription identifiers that matched.
    func packet(
        qos: QoS, packetID: UInt16?, retain: Bool, subscriptionIdentifiers: [Int], dup: Bool = false,
        now: NIODeadline
    ) -> PublishPacket {
        var properties = self.properties
        if let expiresAt {
            // Whole seconds, rounded up: a message still alive never says 0 (mosquitto's suite checks this).
            let left = max(0, (expiresAt - now).nanoseconds)
            let remaining = left / 1_000_000_000 + (left % 1_000_000_000 > 0 ? 1 : 0)
            properties.messageExpiryInterval = UInt32(clamping: remaining)
        }
        if !subscriptionIdentifiers.isEmpty { properties.subscriptionIdentifiers = subscriptionIdentifiers }
        return PublishPacket(
            dup: dup, qos: qos, retain: retain, topic: topic, packetID: packetID, properties: properties,
            payload: payload)
    }
}
