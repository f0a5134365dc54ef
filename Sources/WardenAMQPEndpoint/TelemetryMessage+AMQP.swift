import NIOCore
import WardenAMQP
import WardenAzure

/// A device's AMQP telemetry message as the hub takes telemetry (protocols.md §2.5): the body's bytes, and
/// the properties an MQTT device would put in its topic's property bag.
struct AMQPTelemetry {
    let properties: [PropertyBag.Property]
    let body: ByteBuffer

    /// The C SDK sends telemetry in batches: each data section holds a whole encoded message.
    static let batchFormat: UInt32 = 0x8001_3700
    /// Messages in one batch (each is submitted on the event loop, though the batch takes one credit).
    static let maximumBatchMessages = 1024

    /// The telemetry a delivery carries: its one message (format 0), or each message of a batch, in order;
    /// a refusal names what is wrong (another format, a batch section that is not a message, a body that is
    /// not bytes).
    static func messages(in message: AMQPMessage, format: UInt32) throws(AMQPError) -> [AMQPTelemetry] {
        let messages: [AMQPMessage]
        switch format {
        case 0:
            messages = [message]
        case batchFormat:
            guard case .data(let sections) = message.body, sections.count <= maximumBatchMessages,
                let unpacked = try? sections.map({ bytes throws(AMQPDecodingError) in try AMQPMessage(decoding: bytes) }
                )
            else {
                throw AMQPError(.decodeError, "A batch's data sections are whole messages, at most 1,024.")
            }
            messages = unpacked
        default:
            throw AMQPError(.notImplemented, "Message format \(format) is not read here.")
        }
        let telemetry = messages.compactMap(AMQPTelemetry.init)
        guard telemetry.count == messages.count else {
            throw AMQPError(.decodeError, "Telemetry is data sections, or a binary or string value.")
        }
        return telemetry
    }

    /// Nil for a body that is not bytes (an AMQP sequence, or a value other than binary or string).
    init?(_ message: AMQPMessage) {
        guard let body = message.body.bytes else { return nil }
        self.body = body
        var properties: [PropertyBag.Property] = []
        let system: [(String, AMQPValue?)] = [
            ("$.mid", message.properties?.messageID), ("$.cid", message.properties?.correlationID),
            ("$.ct", message.properties?.contentType.map(AMQPValue.symbol)),
            ("$.ce", message.properties?.contentEncoding.map(AMQPValue.symbol)),
        ]
        for (name, value) in system {
            if let text = value.flatMap(Self.text) { properties.append(.init(name, text)) }
        }
        for entry in message.applicationProperties ?? [] {
            guard case .string(let name) = entry.key, let text = Self.text(entry.value) else { continue }
            properties.append(.init(name, text))
        }
        self.properties = properties
    }

    /// A property value as text: strings and symbols as they are, numbers, booleans, UUIDs and timestamps
    /// (milliseconds) written out; nil for binary and compound values, which a property bag cannot carry.
    static func text(_ value: AMQPValue) -> String? {
        switch value {
        case .string(let text), .symbol(let text): text
        case .bool(let flag): flag ? "true" : "false"
        case .ubyte(let number): String(number)
        case .ushort(let number): String(number)
        case .uint(let number): String(number)
        case .ulong(let number): String(number)
        case .byte(let number): String(number)
        case .short(let number): String(number)
        case .int(let number): String(number)
        case .long(let number): String(number)
        case .timestamp(let milliseconds): String(milliseconds)
        case .float(let number): String(number)
        case .double(let number): String(number)
        case .uuid(let uuid): uuid.description
        default: nil
        }
    }
}
