/// The descriptor codes of the types this codec reads and writes (§2.7, §2.8, §3.2, §3.4, §3.5, §5.3), and
/// their symbolic names, which a peer may send instead (§1.5).
enum AMQPDescriptorCode {
    static let open: UInt64 = 0x10
    static let begin: UInt64 = 0x11
    static let attach: UInt64 = 0x12
    static let flow: UInt64 = 0x13
    static let transfer: UInt64 = 0x14
    static let disposition: UInt64 = 0x15
    static let detach: UInt64 = 0x16
    static let end: UInt64 = 0x17
    static let close: UInt64 = 0x18
    static let error: UInt64 = 0x1D
    static let received: UInt64 = 0x23
    static let accepted: UInt64 = 0x24
    static let rejected: UInt64 = 0x25
    static let released: UInt64 = 0x26
    static let modified: UInt64 = 0x27
    static let source: UInt64 = 0x28
    static let target: UInt64 = 0x29
    static let saslMechanisms: UInt64 = 0x40
    static let saslInit: UInt64 = 0x41
    static let saslChallenge: UInt64 = 0x42
    static let saslResponse: UInt64 = 0x43
    static let saslOutcome: UInt64 = 0x44
    static let header: UInt64 = 0x70
    static let deliveryAnnotations: UInt64 = 0x71
    static let messageAnnotations: UInt64 = 0x72
    static let properties: UInt64 = 0x73
    static let applicationProperties: UInt64 = 0x74
    static let data: UInt64 = 0x75
    static let amqpSequence: UInt64 = 0x76
    static let amqpValue: UInt64 = 0x77
    static let footer: UInt64 = 0x78

    private static let names: [String: UInt64] = [
        "amqp:open:list": open, "amqp:begin:list": begin, "amqp:attach:list": attach, "amqp:flow:list": flow,
        "amqp:transfer:list": transfer, "amqp:disposition:list": disposition, "amqp:detach:list": detach,
        "amqp:end:list": end, "amqp:close:list": close, "amqp:error:list": error,
        "amqp:received:list": received, "amqp:accepted:list": accepted, "amqp:rejected:list": rejected,
        "amqp:released:list": released, "amqp:modified:list": modified, "amqp:source:list": source,
        "amqp:target:list": target, "amqp:sasl-mechanisms:list": saslMechanisms,
        "amqp:sasl-init:list": saslInit, "amqp:sasl-challenge:list": saslChallenge,
        "amqp:sasl-response:list": saslResponse, "amqp:sasl-outcome:list": saslOutcome,
        "amqp:header:list": header, "amqp:delivery-annotations:map": deliveryAnnotations,
        "amqp:message-annotations:map": messageAnnotations, "amqp:properties:list": properties,
        "amqp:application-properties:map": applicationProperties, "amqp:data:binary": data,
        "amqp:amqp-sequence:list": amqpSequence, "amqp:amqp-value:*": amqpValue, "amqp:footer:map": footer,
    ]

    /// The code a descriptor stands for; nil for one of another domain or name.
    static func code(of descriptor: AMQPDescriptor) -> UInt64? {
        switch descriptor {
        case .code(let code): code
        case .name(let name): names[name]
        }
    }
}

/// An error carried by `close`, `end`, `detach` and `rejected` (§2.8.14).
public struct AMQPError: Sendable, Hashable, Error {
    public var condition: AMQPCondition
    public var description: String?
    public var info: [AMQPMapEntry]?

    public init(_ condition: AMQPCondition, _ description: String? = nil, info: [AMQPMapEntry]? = nil) {
        self.condition = condition
        self.description = description
        self.info = info
    }

    init(_ value: AMQPValue) throws(AMQPDecodingError) {
        guard case .described(let descriptor, let list) = value,
            AMQPDescriptorCode.code(of: descriptor) == AMQPDescriptorCode.error
        else { throw .invalidField("error.not_an_error") }
        let fields = try AMQPFields("error", list)
        condition = AMQPCondition(rawValue: try fields.required(0, fields.symbol))
        description = try fields.string(1)
        info = try fields.map(2)
    }

    public var value: AMQPValue {
        .performative(
            AMQPDescriptorCode.error,
            [.symbol(condition.rawValue), description.map(AMQPValue.string), info.map(AMQPValue.map)])
    }
}

/// The outcome of a delivery (§3.4): what a receiver says of a message, or a sender asks it to say.
public enum AMQPDeliveryState: Sendable, Hashable {
    case accepted
    case rejected(AMQPError?)
    case released
    case modified(deliveryFailed: Bool, undeliverableHere: Bool)
    /// How much of a message arrived (for resuming a link); the hub never resumes, so it only reads it.
    case received(sectionNumber: UInt32, sectionOffset: UInt64)

    init(_ value: AMQPValue) throws(AMQPDecodingError) {
        guard case .described(let descriptor, let list) = value else { throw .invalidField("state.not_described") }
        switch AMQPDescriptorCode.code(of: descriptor) {
        case AMQPDescriptorCode.accepted: self = .accepted
        case AMQPDescriptorCode.rejected:
            self = .rejected(try AMQPFields("rejected", list).error(0))
        case AMQPDescriptorCode.released: self = .released
        case AMQPDescriptorCode.modified:
            let fields = try AMQPFields("modified", list)
            self = .modified(
                deliveryFailed: try fields.bool(0) ?? false, undeliverableHere: try fields.bool(1) ?? false)
        case AMQPDescriptorCode.received:
            let fields = try AMQPFields("received", list)
            self = .received(
                sectionNumber: try fields.required(0, fields.uint), sectionOffset: try fields.required(1, fields.ulong))
        default: throw .invalidField("state.unknown")
        }
    }

    public var value: AMQPValue {
        switch self {
        case .accepted: .performative(AMQPDescriptorCode.accepted, [])
        case .rejected(let error): .performative(AMQPDescriptorCode.rejected, [error?.value])
        case .released: .performative(AMQPDescriptorCode.released, [])
        case .modified(let failed, let here):
            .performative(AMQPDescriptorCode.modified, [.bool(failed), .bool(here)])
        case .received(let number, let offset):
            .performative(AMQPDescriptorCode.received, [.uint(number), .ulong(offset)])
        }
    }
}
