/// The limits a decoder enforces; every one is a parameter, none is hidden in the codec.
public struct DecodingLimits: Sendable, Hashable {
    /// The largest whole packet (fixed header included) accepted; 5.0 advertises it as Maximum Packet Size.
    public var maximumPacketSize: Int
    /// The most topic filters one SUBSCRIBE or UNSUBSCRIBE may carry.
    public var maximumFiltersPerSubscribe: Int
    /// The most user properties one packet may carry.
    public var maximumUserProperties: Int
    /// The most levels a Topic Name or Filter may have: each level of a subscription is a node of the
    /// subscription tree, so a 64 KiB filter of slashes would cost a connection 32,768 of them. 201 levels are
    /// 200 separators, mosquitto's limit.
    public var maximumTopicLevels: Int

    /// Makes limits; defaults suit a device hub (256 KiB packets, as Azure IoT Hub's maximum message).
    public init(
        maximumPacketSize: Int = 256 * 1024 + 512, maximumFiltersPerSubscribe: Int = 64,
        maximumUserProperties: Int = 64,
        maximumTopicLevels: Int = 201
    ) {
        self.maximumPacketSize = maximumPacketSize
        self.maximumFiltersPerSubscribe = maximumFiltersPerSubscribe
        self.maximumUserProperties = maximumUserProperties
        self.maximumTopicLevels = maximumTopicLevels
    }

    /// The protocol's own ceiling: a 268,435,455-byte remaining length plus a 5-byte fixed header.
    public static let protocolMaximum = DecodingLimits(
        maximumPacketSize: 268_435_460, maximumFiltersPerSubscribe: .max, maximumUserProperties: .max,
        maximumTopicLevels: .max)
}
