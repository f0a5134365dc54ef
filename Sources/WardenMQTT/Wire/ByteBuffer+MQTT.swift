import NIOCore

/// MQTT's data representations (3.1.1 §1.5, 5.0 §1.5) on ByteBuffer. Readers work on a packet body that
/// is already complete, so running out of bytes is a Malformed Packet, not "need more".
extension ByteBuffer {
    mutating func readMQTTByte() throws(MQTTDecodingError) -> UInt8 {
        guard let byte = readInteger(as: UInt8.self) else { throw .malformed("body.truncated") }
        return byte
    }

    mutating func readMQTTUInt16() throws(MQTTDecodingError) -> UInt16 {
        guard let value = readInteger(as: UInt16.self) else { throw .malformed("body.truncated") }
        return value
    }

    mutating func readMQTTUInt32() throws(MQTTDecodingError) -> UInt32 {
        guard let value = readInteger(as: UInt32.self) else { throw .malformed("body.truncated") }
        return value
    }

    /// A Variable Byte Integer: at most 4 bytes, and in its shortest form (5.0 [MQTT-1.5.5-1]).
    mutating func readMQTTVariableInteger() throws(MQTTDecodingError) -> Int {
        switch peekMQTTVariableInteger() {
        case .complete(let value, let length):
            moveReaderIndex(forwardBy: length)
            return value
        case .incomplete: throw .malformed("variable_integer.truncated")
        case .invalid(let rule): throw .malformed(rule)
        }
    }

    enum VariableIntegerPeek {
        case complete(value: Int, length: Int)
        case incomplete
        case invalid(String)
    }

    /// Reads a Variable Byte Integer without moving the reader index.
    func peekMQTTVariableInteger(at offset: Int = 0) -> VariableIntegerPeek {
        var value = 0
        for position in 0..<4 {
            guard let byte = getInteger(at: readerIndex + offset + position, as: UInt8.self) else { return .incomplete }
            // total: seven bits, shifted at most 21: below 2^28.
            value |= Int(byte & 0x7F) << (7 * position)
            if byte & 0x80 == 0 {
                if position > 0 && byte == 0 { return .invalid("variable_integer.not_minimal") }
                return .complete(value: value, length: position + 1)
            }
        }
        return .invalid("variable_integer.too_long")
    }

    /// A UTF-8 Encoded String: 2-byte length, well-formed UTF-8 (no surrogates), no U+0000
    /// (3.1.1 [MQTT-1.5.3-1], [MQTT-1.5.3-2]; 5.0 [MQTT-1.5.4-1], [MQTT-1.5.4-2]).
    mutating func readMQTTString() throws(MQTTDecodingError) -> String {
        // total: widens a UInt16.
        let length = Int(try readMQTTUInt16())
        guard let bytes = readBytes(length: length) else { throw .malformed("string.truncated") }
        guard !bytes.contains(0) else { throw .malformed("string.contains_nul") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .malformed("string.invalid_utf8") }
        return text
    }

    /// Binary Data: 2-byte length and the bytes.
    mutating func readMQTTBinary() throws(MQTTDecodingError) -> [UInt8] {
        // total: widens a UInt16.
        let length = Int(try readMQTTUInt16())
        guard let bytes = readBytes(length: length) else { throw .malformed("binary.truncated") }
        return bytes
    }

    /// A non-zero Packet Identifier (3.1.1 [MQTT-2.3.1-1], 5.0 [MQTT-2.2.1-3]).
    mutating func readMQTTPacketIdentifier() throws(MQTTDecodingError) -> UInt16 {
        let identifier = try readMQTTUInt16()
        guard identifier != 0 else { throw .malformed("packet_identifier.zero") }
        return identifier
    }

    @discardableResult
    mutating func writeMQTTVariableInteger(_ value: Int) -> Int {
        let written = setMQTTVariableInteger(value, at: writerIndex)
        moveWriterIndex(forwardBy: written)
        return written
    }

    /// Sets `value` as a Variable Byte Integer at `index`; returns how many bytes it took.
    @discardableResult
    mutating func setMQTTVariableInteger(_ value: Int, at index: Int) -> Int {
        var remaining = value
        var written = 0
        repeat {
            // total: seven bits.
            var byte = UInt8(remaining & 0x7F)
            remaining >>= 7
            if remaining > 0 { byte |= 0x80 }
            setInteger(byte, at: index + written)
            written += 1
        } while remaining > 0
        return written
    }

    /// A two-byte length and the UTF-8 bytes; longer than 65,535 bytes cannot be encoded.
    mutating func writeMQTTString(_ text: String) throws(MQTTEncodingError) {
        guard let length = UInt16(exactly: text.utf8.count) else {
            throw MQTTEncodingError("string", length: text.utf8.count)
        }
        writeInteger(length)
        writeString(text)
    }

    /// A two-byte length and the bytes; longer than 65,535 bytes cannot be encoded.
    mutating func writeMQTTBinary(_ bytes: [UInt8]) throws(MQTTEncodingError) {
        guard let length = UInt16(exactly: bytes.count) else { throw MQTTEncodingError("binary", length: bytes.count) }
        writeInteger(length)
        writeBytes(bytes)
    }

    /// How many bytes `value` takes as a Variable Byte Integer.
    static func mqttVariableIntegerLength(_ value: Int) -> Int {
        switch value {
        case ..<128: 1
        case ..<16_384: 2
        case ..<2_097_152: 3
        default: 4
        }
    }
}

extension ByteBuffer {
    /// Reads the topic filters of a SUBSCRIBE or UNSUBSCRIBE until the body ends, each followed by what `entry`
    /// reads: at least one, at most `limits.maximumFiltersPerSubscribe`, each filter's levels counted before
    /// `TopicFilter` splits it into them. `packet` names the rules (`subscribe.no_filters`, …).
    mutating func readMQTTFilters<Entry>(
        of packet: String, limits: DecodingLimits,
        _ entry: (TopicFilter, inout ByteBuffer) throws(MQTTDecodingError) -> Entry
    ) throws(MQTTDecodingError) -> [Entry] {
        var entries: [Entry] = []
        while readableBytes > 0 {
            guard entries.count < limits.maximumFiltersPerSubscribe else {
                throw .malformed(packet + ".too_many_filters", limit: limits.maximumFiltersPerSubscribe)
            }
            let text = try readMQTTString()
            try TopicName.checkLevels(TopicFilter.filterPart(of: text), limit: limits.maximumTopicLevels)
            entries.append(try entry(try TopicFilter(text), &self))
        }
        // 3.1.1 [MQTT-3.8.3-3], 5.0 [MQTT-3.8.3-2], [MQTT-3.10.3-2]
        guard !entries.isEmpty else { throw .protocolError(packet + ".no_filters") }
        return entries
    }
}
