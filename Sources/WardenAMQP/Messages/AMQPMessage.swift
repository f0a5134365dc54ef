public import NIOCore

/// A message in the bare-and-annotated form of §3.2: the sections a device or the hub sets, each optional.
public struct AMQPMessage: Sendable, Hashable {
    /// Transport headers (§3.2.1): durability, priority, time to live, first acquirer, delivery count.
    public var header: Header?
    public var deliveryAnnotations: [AMQPMapEntry]?
    /// Azure IoT Hub carries its system properties here (`iothub-enqueuedtime`, `x-opt-lock-token`…).
    public var messageAnnotations: [AMQPMapEntry]?
    public var properties: Properties?
    /// The application's own properties; keys are strings (§3.2.5).
    public var applicationProperties: [AMQPMapEntry]?
    public var body: Body
    public var footer: [AMQPMapEntry]?

    public init(
        header: Header? = nil, deliveryAnnotations: [AMQPMapEntry]? = nil,
        messageAnnotations: [AMQPMapEntry]? = nil, properties: Properties? = nil,
        applicationProperties: [AMQPMapEntry]? = nil, body: Body, footer: [AMQPMapEntry]? = nil
    ) {
        self.header = header
        self.deliveryAnnotations = deliveryAnnotations
        self.messageAnnotations = messageAnnotations
        self.properties = properties
        self.applicationProperties = applicationProperties
        self.body = body
        self.footer = footer
    }

    /// The body (§3.2.6–3.2.8): one or more data sections, one or more sequences, or one value.
    public enum Body: Sendable, Hashable {
        case data([ByteBuffer])
        case sequence([[AMQPValue]])
        case value(AMQPValue)

        /// The bytes a device sent: its data sections joined, or a binary or string value's bytes; nil for
        /// a body of other AMQP values.
        public var bytes: ByteBuffer? {
            switch self {
            case .data(let sections):
                guard sections.count > 1 else { return sections.first }
                var joined = ByteBuffer()
                joined.reserveCapacity(sections.reduce(0) { $0 + $1.readableBytes })
                for section in sections { joined.writeImmutableBuffer(section) }
                return joined
            case .value(.binary(let bytes)): return bytes
            case .value(.string(let text)): return ByteBuffer(string: text)
            default: return nil
            }
        }
    }

    public struct Header: Sendable, Hashable {
        public var durable: Bool
        public var priority: UInt8
        /// Milliseconds.
        public var timeToLive: UInt32?
        public var firstAcquirer: Bool
        public var deliveryCount: UInt32

        public init(
            durable: Bool = false, priority: UInt8 = 4, timeToLive: UInt32? = nil, firstAcquirer: Bool = false,
            deliveryCount: UInt32 = 0
        ) {
            self.durable = durable
            self.priority = priority
            self.timeToLive = timeToLive
            self.firstAcquirer = firstAcquirer
            self.deliveryCount = deliveryCount
        }
    }

    /// The immutable properties (§3.2.4). Ids are any of ulong, uuid, binary or string, kept as values.
    public struct Properties: Sendable, Hashable {
        public var messageID: AMQPValue?
        public var userID: ByteBuffer?
        public var to: String?
        public var subject: String?
        public var replyTo: String?
        public var correlationID: AMQPValue?
        public var contentType: String?
        public var contentEncoding: String?
        /// Milliseconds since the Unix epoch.
        public var absoluteExpiryTime: Int64?
        public var creationTime: Int64?
        public var groupID: String?
        public var groupSequence: UInt32?
        public var replyToGroupID: String?

        public init(
            messageID: AMQPValue? = nil, userID: ByteBuffer? = nil, to: String? = nil, subject: String? = nil,
            replyTo: String? = nil, correlationID: AMQPValue? = nil, contentType: String? = nil,
            contentEncoding: String? = nil, absoluteExpiryTime: Int64? = nil, creationTime: Int64? = nil,
            groupID: String? = nil, groupSequence: UInt32? = nil, replyToGroupID: String? = nil
        ) {
            self.messageID = messageID
            self.userID = userID
            self.to = to
            self.subject = subject
            self.replyTo = replyTo
            self.correlationID = correlationID
            self.contentType = contentType
            self.contentEncoding = contentEncoding
            self.absoluteExpiryTime = absoluteExpiryTime
            self.creationTime = creationTime
            self.groupID = groupID
            self.groupSequence = groupSequence
            self.replyToGroupID = replyToGroupID
        }
    }
}
