public import NIOCore

/// What a frame says (§2.7 for AMQP frames, §5.3.3 for SASL frames).
public enum AMQPPerformative: Sendable, Hashable {
    case open(Open)
    case begin(Begin)
    case attach(Attach)
    case flow(Flow)
    case transfer(Transfer)
    case disposition(Disposition)
    case detach(Detach)
    case end(AMQPError?)
    case close(AMQPError?)
    case saslMechanisms([String])
    case saslInit(SASLInit)
    case saslChallenge(ByteBuffer)
    case saslResponse(ByteBuffer)
    case saslOutcome(SASLOutcome)

    /// The connection's parameters (§2.7.1).
    public struct Open: Sendable, Hashable {
        public var containerID: String
        public var hostname: String?
        /// Absent means 4,294,967,295 (§2.7.1); the hub caps it with its own.
        public var maximumFrameSize: UInt32
        public var channelMaximum: UInt16
        /// Milliseconds; nil when the peer does not time out idle connections.
        public var idleTimeout: UInt32?
        public var offeredCapabilities: [String]
        public var desiredCapabilities: [String]
        public var properties: [AMQPMapEntry]?

        public init(
            containerID: String, hostname: String? = nil, maximumFrameSize: UInt32 = .max,
            channelMaximum: UInt16 = .max, idleTimeout: UInt32? = nil, offeredCapabilities: [String] = [],
            desiredCapabilities: [String] = [], properties: [AMQPMapEntry]? = nil
        ) {
            self.containerID = containerID
            self.hostname = hostname
            self.maximumFrameSize = maximumFrameSize
            self.channelMaximum = channelMaximum
            self.idleTimeout = idleTimeout
            self.offeredCapabilities = offeredCapabilities
            self.desiredCapabilities = desiredCapabilities
            self.properties = properties
        }
    }

    /// A session's start (§2.7.2).
    public struct Begin: Sendable, Hashable {
        /// The peer's channel this answers; nil when the sender begins the session.
        public var remoteChannel: UInt16?
        public var nextOutgoingID: UInt32
        public var incomingWindow: UInt32
        public var outgoingWindow: UInt32
        public var handleMaximum: UInt32
        public var properties: [AMQPMapEntry]?

        public init(
            remoteChannel: UInt16?, nextOutgoingID: UInt32, incomingWindow: UInt32, outgoingWindow: UInt32,
            handleMaximum: UInt32 = .max, properties: [AMQPMapEntry]? = nil
        ) {
            self.remoteChannel = remoteChannel
            self.nextOutgoingID = nextOutgoingID
            self.incomingWindow = incomingWindow
            self.outgoingWindow = outgoingWindow
            self.handleMaximum = handleMaximum
            self.properties = properties
        }
    }

    /// A link's start (§2.7.3). `source` and `target` are kept as they came (the hub echoes them).
    public struct Attach: Sendable, Hashable {
        public enum Role: Sendable, Hashable {
            case sender, receiver
        }

        public var name: String
        public var handle: UInt32
        public var role: Role
        /// 0 unsettled, 1 settled, 2 mixed (the default).
        public var senderSettleMode: UInt8
        /// 0 first (the default), 1 second.
        public var receiverSettleMode: UInt8
        public var source: AMQPValue?
        public var target: AMQPValue?
        public var initialDeliveryCount: UInt32?
        public var maximumMessageSize: UInt64?
        public var properties: [AMQPMapEntry]?

        public init(
            name: String, handle: UInt32, role: Role, senderSettleMode: UInt8 = 2, receiverSettleMode: UInt8 = 0,
            source: AMQPValue? = nil, target: AMQPValue? = nil, initialDeliveryCount: UInt32? = nil,
            maximumMessageSize: UInt64? = nil, properties: [AMQPMapEntry]? = nil
        ) {
            self.name = name
            self.handle = handle
            self.role = role
            self.senderSettleMode = senderSettleMode
            self.receiverSettleMode = receiverSettleMode
            self.source = source
            self.target = target
            self.initialDeliveryCount = initialDeliveryCount
            self.maximumMessageSize = maximumMessageSize
            self.properties = properties
        }

        /// The address of the source (a receiving client's link) or target (a sending client's link).
        public func address(of terminus: AMQPValue?) -> String? {
            guard case .described(_, .list(let fields))? = terminus, let first = fields.first else { return nil }
            return first.text
        }
    }

    /// Session and link flow control (§2.7.4).
    public struct Flow: Sendable, Hashable {
        public var nextIncomingID: UInt32?
        public var incomingWindow: UInt32
        public var nextOutgoingID: UInt32
        public var outgoingWindow: UInt32
        public var handle: UInt32?
        public var deliveryCount: UInt32?
        public var linkCredit: UInt32?
        public var available: UInt32?
        public var drain: Bool
        public var echo: Bool

        public init(
            nextIncomingID: UInt32?, incomingWindow: UInt32, nextOutgoingID: UInt32, outgoingWindow: UInt32,
            handle: UInt32? = nil, deliveryCount: UInt32? = nil, linkCredit: UInt32? = nil,
            available: UInt32? = nil, drain: Bool = false, echo: Bool = false
        ) {
            self.nextIncomingID = nextIncomingID
            self.incomingWindow = incomingWindow
            self.nextOutgoingID = nextOutgoingID
            self.outgoingWindow = outgoingWindow
            self.handle = handle
            self.deliveryCount = deliveryCount
            self.linkCredit = linkCredit
            self.available = available
            self.drain = drain
            self.echo = echo
        }
    }

    /// A message, or a part of one (§2.7.5); its bytes follow the performative in the frame.
    public struct Transfer: Sendable, Hashable {
        public var handle: UInt32
        /// Required on a delivery's first transfer, optional on the rest.
        public var deliveryID: UInt32?
        public var deliveryTag: ByteBuffer?
        public var messageFormat: UInt32?
        public var settled: Bool?
        public var more: Bool
        public var state: AMQPDeliveryState?
        public var aborted: Bool

        public init(
            handle: UInt32, deliveryID: UInt32? = nil, deliveryTag: ByteBuffer? = nil, messageFormat: UInt32? = nil,
            settled: Bool? = nil, more: Bool = false, state: AMQPDeliveryState? = nil, aborted: Bool = false
        ) {
            self.handle = handle
            self.deliveryID = deliveryID
            self.deliveryTag = deliveryTag
            self.messageFormat = messageFormat
            self.settled = settled
            self.more = more
            self.state = state
            self.aborted = aborted
        }
    }

    /// The outcome of a range of deliveries (§2.7.6).
    public struct Disposition: Sendable, Hashable {
        public var role: Attach.Role
        public var first: UInt32
        public var last: UInt32?
        public var settled: Bool
        public var state: AMQPDeliveryState?

        public init(
            role: Attach.Role, first: UInt32, last: UInt32? = nil, settled: Bool, state: AMQPDeliveryState?
        ) {
            self.role = role
            self.first = first
            self.last = last
            self.settled = settled
            self.state = state
        }
    }

    /// A link's end (§2.7.7).
    public struct Detach: Sendable, Hashable {
        public var handle: UInt32
        public var closed: Bool
        public var error: AMQPError?

        public init(handle: UInt32, closed: Bool, error: AMQPError? = nil) {
            self.handle = handle
            self.closed = closed
            self.error = error
        }
    }

    /// The mechanism a client chose, with its first answer (§5.3.3.2).
    public struct SASLInit: Sendable, Hashable {
        public var mechanism: String
        public var initialResponse: ByteBuffer?
        public var hostname: String?

        public init(mechanism: String, initialResponse: ByteBuffer? = nil, hostname: String? = nil) {
            self.mechanism = mechanism
            self.initialResponse = initialResponse
            self.hostname = hostname
        }
    }

    /// How the SASL exchange ended (§5.3.3.6).
    public enum SASLOutcome: UInt8, Sendable, Hashable {
        case ok = 0
        case authentication = 1
        case system = 2
        case systemPermanent = 3
        case systemTemporary = 4
    }
}

extension AMQPPerformative {
    /// Reads a frame body's first value as a performative of the frame's kind.
    public init(_ value: AMQPValue, sasl: Bool) throws(AMQPDecodingError) {
        guard case .described(let descriptor, let list) = value, let code = AMQPDescriptorCode.code(of: descriptor)
        else { throw .invalidField("performative.not_described") }
        typealias Code = AMQPDescriptorCode
        switch (code, sasl) {
        case (Code.open, false): self = .open(try Open(AMQPFields("open", list)))
        case (Code.begin, false): self = .begin(try Begin(AMQPFields("begin", list)))
        case (Code.attach, false): self = .attach(try Attach(AMQPFields("attach", list)))
        case (Code.flow, false): self = .flow(try Flow(AMQPFields("flow", list)))
        case (Code.transfer, false): self = .transfer(try Transfer(AMQPFields("transfer", list)))
        case (Code.disposition, false): self = .disposition(try Disposition(AMQPFields("disposition", list)))
        case (Code.detach, false):
            let fields = try AMQPFields("detach", list)
            self = .detach(
                Detach(
                    handle: try fields.required(0, fields.uint), closed: try fields.bool(1) ?? false,
                    error: try fields.error(2)))
        case (Code.end, false): self = .end(try AMQPFields("end", list).error(0))
        case (Code.close, false): self = .close(try AMQPFields("close", list).error(0))
        case (Code.saslMechanisms, true):
            let fields = try AMQPFields("sasl-mechanisms", list)
            let mechanisms = try fields.symbols(0)
            guard !mechanisms.isEmpty else { throw .invalidField("sasl-mechanisms.field_0_missing") }
            self = .saslMechanisms(mechanisms)
        case (Code.saslInit, true):
            let fields = try AMQPFields("sasl-init", list)
            self = .saslInit(
                SASLInit(
                    mechanism: try fields.required(0, fields.symbol), initialResponse: try fields.binary(1),
                    hostname: try fields.string(2)))
        case (Code.saslChallenge, true):
            let fields = try AMQPFields("sasl-challenge", list)
            self = .saslChallenge(try fields.required(0, fields.binary))
        case (Code.saslResponse, true):
            let fields = try AMQPFields("sasl-response", list)
            self = .saslResponse(try fields.required(0, fields.binary))
        case (Code.saslOutcome, true):
            let fields = try AMQPFields("sasl-outcome", list)
            guard let outcome = SASLOutcome(rawValue: try fields.required(0, fields.ubyte)) else {
                throw .invalidField("sasl-outcome.code_unknown")
            }
            self = .saslOutcome(outcome)
        default:
            throw AMQPDecodingError(sasl ? .framingError : .notImplemented, "performative.unknown")
        }
    }

    /// The performative as the described list it is written as.
    public var value: AMQPValue {
        typealias Code = AMQPDescriptorCode
        switch self {
        case .open(let open):
            return .performative(
                Code.open,
                [
                    .string(open.containerID), open.hostname.map(AMQPValue.string), .uint(open.maximumFrameSize),
                    .ushort(open.channelMaximum), open.idleTimeout.map(AMQPValue.uint), nil, nil,
                    .symbols(open.offeredCapabilities), .symbols(open.desiredCapabilities),
                    open.properties.map(AMQPValue.map),
                ])
        case .begin(let begin):
            return .performative(
                Code.begin,
                [
                    begin.remoteChannel.map(AMQPValue.ushort), .uint(begin.nextOutgoingID),
                    .uint(begin.incomingWindow), .uint(begin.outgoingWindow), .uint(begin.handleMaximum), nil, nil,
                    begin.properties.map(AMQPValue.map),
                ])
        case .attach(let attach):
            return .performative(
                Code.attach,
                [
                    .string(attach.name), .uint(attach.handle), .bool(attach.role == .receiver),
                    .ubyte(attach.senderSettleMode), .ubyte(attach.receiverSettleMode), attach.source, attach.target,
                    nil, nil, attach.initialDeliveryCount.map(AMQPValue.uint),
                    attach.maximumMessageSize.map(AMQPValue.ulong), nil, nil, attach.properties.map(AMQPValue.map),
                ])
        case .flow(let flow):
            return .performative(
                Code.flow,
                [
                    flow.nextIncomingID.map(AMQPValue.uint), .uint(flow.incomingWindow), .uint(flow.nextOutgoingID),
                    .uint(flow.outgoingWindow), flow.handle.map(AMQPValue.uint),
                    flow.deliveryCount.map(AMQPValue.uint), flow.linkCredit.map(AMQPValue.uint),
                    flow.available.map(AMQPValue.uint), .flag(flow.drain), .flag(flow.echo),
                ])
        case .transfer(let transfer):
            return .performative(
                Code.transfer,
                [
                    .uint(transfer.handle), transfer.deliveryID.map(AMQPValue.uint),
                    transfer.deliveryTag.map(AMQPValue.binary), transfer.messageFormat.map(AMQPValue.uint),
                    transfer.settled.map(AMQPValue.bool), .flag(transfer.more), nil, transfer.state?.value, nil,
                    .flag(transfer.aborted),
                ])
        case .disposition(let disposition):
            return .performative(
                Code.disposition,
                [
                    .bool(disposition.role == .receiver), .uint(disposition.first),
                    disposition.last.map(AMQPValue.uint), .flag(disposition.settled), disposition.state?.value,
                ])
        case .detach(let detach):
            return .performative(Code.detach, [.uint(detach.handle), .flag(detach.closed), detach.error?.value])
        case .end(let error): return .performative(Code.end, [error?.value])
        case .close(let error): return .performative(Code.close, [error?.value])
        case .saslMechanisms(let mechanisms):
            return .performative(Code.saslMechanisms, [.array(.symbols(mechanisms))])
        case .saslInit(let initial):
            return .performative(
                Code.saslInit,
                [
                    .symbol(initial.mechanism), initial.initialResponse.map(AMQPValue.binary),
                    initial.hostname.map(AMQPValue.string),
                ])
        case .saslChallenge(let bytes): return .performative(Code.saslChallenge, [.binary(bytes)])
        case .saslResponse(let bytes): return .performative(Code.saslResponse, [.binary(bytes)])
        case .saslOutcome(let outcome): return .performative(Code.saslOutcome, [.ubyte(outcome.rawValue)])
        }
    }
}

extension AMQPValue {
    /// A `multiple` symbol field: absent when empty.
    fileprivate static func symbols(_ names: [String]) -> AMQPValue? {
        names.isEmpty ? nil : .array(.symbols(names))
    }

    /// A boolean field whose default is false: absent when false.
    fileprivate static func flag(_ flag: Bool) -> AMQPValue? {
        flag ? .bool(true) : nil
    }
}

extension AMQPPerformative.Open {
    init(_ fields: AMQPFields) throws(AMQPDecodingError) {
        self.init(
            containerID: try fields.required(0, fields.string), hostname: try fields.string(1),
            maximumFrameSize: try fields.uint(2) ?? .max, channelMaximum: try fields.ushort(3) ?? .max,
            idleTimeout: try fields.uint(4), offeredCapabilities: try fields.symbols(7),
            desiredCapabilities: try fields.symbols(8), properties: try fields.map(9))
    }
}

extension AMQPPerformative.Begin {
    init(_ fields: AMQPFields) throws(AMQPDecodingError) {
        self.init(
            remoteChannel: try fields.ushort(0), nextOutgoingID: try fields.required(1, fields.uint),
            incomingWindow: try fields.required(2, fields.uint), outgoingWindow: try fields.required(3, fields.uint),
            handleMaximum: try fields.uint(4) ?? .max, properties: try fields.map(7))
    }
}

extension AMQPPerformative.Attach {
    init(_ fields: AMQPFields) throws(AMQPDecodingError) {
        self.init(
            name: try fields.required(0, fields.string), handle: try fields.required(1, fields.uint),
            role: try fields.required(2, fields.bool) ? .receiver : .sender,
            senderSettleMode: try fields.ubyte(3) ?? 2, receiverSettleMode: try fields.ubyte(4) ?? 0,
            source: try fields.described(5), target: try fields.described(6),
            initialDeliveryCount: try fields.uint(9), maximumMessageSize: try fields.ulong(10),
            properties: try fields.map(13))
        guard senderSettleMode <= 2, receiverSettleMode <= 1 else { throw .invalidField("attach.settle_mode") }
    }
}

extension AMQPPerformative.Flow {
    init(_ fields: AMQPFields) throws(AMQPDecodingError) {
        self.init(
            nextIncomingID: try fields.uint(0), incomingWindow: try fields.required(1, fields.uint),
            nextOutgoingID: try fields.required(2, fields.uint), outgoingWindow: try fields.required(3, fields.uint),
            handle: try fields.uint(4), deliveryCount: try fields.uint(5), linkCredit: try fields.uint(6),
            available: try fields.uint(7), drain: try fields.bool(8) ?? false, echo: try fields.bool(9) ?? false)
    }
}

extension AMQPPerformative.Transfer {
    init(_ fields: AMQPFields) throws(AMQPDecodingError) {
        self.init(
            handle: try fields.required(0, fields.uint), deliveryID: try fields.uint(1),
            deliveryTag: try fields.binary(2), messageFormat: try fields.uint(3), settled: try fields.bool(4),
            more: try fields.bool(5) ?? false, state: try fields.described(7).map(AMQPDeliveryState.init),
            aborted: try fields.bool(9) ?? false)
        if let tag = deliveryTag, tag.readableBytes > 32 { throw .invalidField("transfer.delivery_tag_too_long") }
    }
}

extension AMQPPerformative.Disposition {
    init(_ fields: AMQPFields) throws(AMQPDecodingError) {
        self.init(
            role: try fields.required(0, fields.bool) ? .receiver : .sender, first: try fields.required(1, fields.uint),
            last: try fields.uint(2), settled: try fields.bool(3) ?? false,
            state: try fields.described(4).map(AMQPDeliveryState.init))
    }
}
