public import NIOCore

extension AMQPMessage {
    /// Reads a whole message (a delivery's transfers joined): its sections in the order §3.2 gives, each
    /// at most once but for the body's data or sequence sections; a message without a body is refused.
    public init(decoding buffer: ByteBuffer, limits: AMQPDecodingLimits = .init()) throws(AMQPDecodingError) {
        typealias Code = AMQPDescriptorCode
        var buffer = buffer
        var reading = AMQPValueDecoder.Reading(buffer, limits: limits)
        var header: Header?
        var deliveryAnnotations: [AMQPMapEntry]?
        var messageAnnotations: [AMQPMapEntry]?
        var properties: Properties?
        var applicationProperties: [AMQPMapEntry]?
        var data: [ByteBuffer] = []
        var sequences: [[AMQPValue]] = []
        var value: AMQPValue?
        var footer: [AMQPMapEntry]?
        var last: UInt64 = 0
        while buffer.readableBytes > 0 {
            guard case .described(let descriptor, let section) = try AMQPValueDecoder.value(&buffer, &reading),
                let code = Code.code(of: descriptor), (Code.header...Code.footer).contains(code)
            else { throw .malformed("message.not_a_section") }
            let repeatable = (code == Code.data || code == Code.amqpSequence) && code == last
            guard code > last || repeatable else { throw .malformed("message.section_out_of_order") }
            guard last < Code.data || code == last || code == Code.footer else {
                throw .malformed("message.body_sections_mixed")
            }
            last = code
            switch code {
            case Code.header: header = try Header(AMQPFields("header", section))
            case Code.deliveryAnnotations: deliveryAnnotations = try Self.annotations(section, "delivery-annotations")
            case Code.messageAnnotations: messageAnnotations = try Self.annotations(section, "message-annotations")
            case Code.properties: properties = try Properties(AMQPFields("properties", section))
            case Code.applicationProperties: applicationProperties = try Self.applicationProperties(section)
            case Code.data:
                guard case .binary(let bytes) = section else { throw .malformed("data.not_binary") }
                data.append(bytes)
            case Code.amqpSequence:
                guard case .list(let elements) = section else { throw .malformed("amqp-sequence.not_a_list") }
                sequences.append(elements)
            case Code.amqpValue: value = section
            default: footer = try Self.annotations(section, "footer")
            }
        }
        let body: Body
        if !data.isEmpty {
            body = .data(data)
        } else if !sequences.isEmpty {
            body = .sequence(sequences)
        } else if let value {
            body = .value(value)
        } else {
            throw .malformed("message.no_body")
        }
        self.init(
            header: header, deliveryAnnotations: deliveryAnnotations, messageAnnotations: messageAnnotations,
            properties: properties, applicationProperties: applicationProperties, body: body, footer: footer)
    }

    /// Annotations (§3.2.10): a map whose keys are symbols or ulongs.
    private static func annotations(_ section: AMQPValue, _ name: String) throws(AMQPDecodingError) -> [AMQPMapEntry] {
        guard case .map(let entries) = section else { throw .malformed("\(name).not_a_map") }
        for entry in entries {
            switch entry.key {
            case .symbol, .ulong: continue
            default: throw .malformed("\(name).key_not_symbol_or_ulong")
            }
        }
        return entries
    }

    /// Application properties (§3.2.5): string keys, and values that are not maps, lists or arrays (described
    /// values are allowed: Microsoft.Azure.Amqp sends URIs and times as such).
    private static func applicationProperties(_ section: AMQPValue) throws(AMQPDecodingError) -> [AMQPMapEntry] {
        guard case .map(let entries) = section else { throw .malformed("application-properties.not_a_map") }
        for entry in entries {
            guard case .string = entry.key else { throw .malformed("application-properties.key_not_string") }
            switch entry.value {
            case .list, .map, .array: throw .malformed("application-properties.value_not_simple")
            default: continue
            }
        }
        return entries
    }
}

extension AMQPMessage.Header {
    init(_ fields: AMQPFields) throws(AMQPDecodingError) {
        self.init(
            durable: try fields.bool(0) ?? false, priority: try fields.ubyte(1) ?? 4, timeToLive: try fields.uint(2),
            firstAcquirer: try fields.bool(3) ?? false, deliveryCount: try fields.uint(4) ?? 0)
    }

    var value: AMQPValue {
        .performative(
            AMQPDescriptorCode.header,
            [
                durable ? .bool(true) : nil, priority == 4 ? nil : .ubyte(priority), timeToLive.map(AMQPValue.uint),
                firstAcquirer ? .bool(true) : nil, deliveryCount == 0 ? nil : .uint(deliveryCount),
            ])
    }
}

extension AMQPMessage.Properties {
    init(_ fields: AMQPFields) throws(AMQPDecodingError) {
        self.init(
            messageID: try fields.messageID(0), userID: try fields.binary(1), to: try fields.string(2),
            subject: try fields.string(3), replyTo: try fields.string(4), correlationID: try fields.messageID(5),
            contentType: try fields.symbol(6), contentEncoding: try fields.symbol(7),
            absoluteExpiryTime: try fields.timestamp(8), creationTime: try fields.timestamp(9),
            groupID: try fields.string(10), groupSequence: try fields.uint(11), replyToGroupID: try fields.string(12))
    }

    var value: AMQPValue {
        .performative(
            AMQPDescriptorCode.properties,
            [
                messageID, userID.map(AMQPValue.binary), to.map(AMQPValue.string), subject.map(AMQPValue.string),
                replyTo.map(AMQPValue.string), correlationID, contentType.map(AMQPValue.symbol),
                contentEncoding.map(AMQPValue.symbol), absoluteExpiryTime.map(AMQPValue.timestamp),
                creationTime.map(AMQPValue.timestamp), groupID.map(AMQPValue.string),
                groupSequence.map(AMQPValue.uint), replyToGroupID.map(AMQPValue.string),
            ])
    }
}

extension ByteBuffer {
    /// Writes a message's sections in order, leaving out the absent ones.
    public mutating func writeAMQPMessage(_ message: AMQPMessage) {
        typealias Code = AMQPDescriptorCode
        func section(_ code: UInt64, _ value: AMQPValue) -> AMQPValue {
            .described(descriptor: .code(code), value: value)
        }
        if let header = message.header { writeAMQPValue(header.value) }
        if let entries = message.deliveryAnnotations {
            writeAMQPValue(section(Code.deliveryAnnotations, .map(entries)))
        }
        if let entries = message.messageAnnotations { writeAMQPValue(section(Code.messageAnnotations, .map(entries))) }
        if let properties = message.properties { writeAMQPValue(properties.value) }
        if let entries = message.applicationProperties {
            writeAMQPValue(section(Code.applicationProperties, .map(entries)))
        }
        switch message.body {
        case .data(let sections):
            // A message has a body: no sections is written as one empty one.
            for bytes in sections.isEmpty ? [ByteBuffer()] : sections {
                writeAMQPValue(section(Code.data, .binary(bytes)))
            }
        case .sequence(let lists):
            for list in lists.isEmpty ? [[]] : lists { writeAMQPValue(section(Code.amqpSequence, .list(list))) }
        case .value(let value): writeAMQPValue(section(Code.amqpValue, value))
        }
        if let entries = message.footer { writeAMQPValue(section(Code.footer, .map(entries))) }
    }
}
