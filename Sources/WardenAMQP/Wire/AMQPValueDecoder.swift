public import NIOCore

/// Reads AMQP 1.0 encoded values (§1.6) from a buffer that holds them whole: running out of bytes is a
/// decode error, not "need more" (frames are complete before their body is read).
public enum AMQPValueDecoder {
    /// One value, with its constructor; consumes exactly its bytes.
    public static func decode(
        _ buffer: inout ByteBuffer, limits: AMQPDecodingLimits = .init()
    ) throws(AMQPDecodingError) -> AMQPValue {
        var reading = Reading(buffer, limits: limits)
        return try value(&buffer, &reading, depth: 0)
    }

    /// One decode's limits and what is left of its element budget: the elements of every compound together
    /// at most the input's bytes plus one compound's limit. `null`, `true` and `uint0` take no byte in an
    /// array, so without it arrays of such arrays would decode to far more values than bytes.
    /// A message's sections share one (`AMQPMessage(decoding:)`), so that many small sections cannot each
    /// claim the limit.
    struct Reading {
        let limits: AMQPDecodingLimits
        var elementBudget: Int

        init(_ input: ByteBuffer, limits: AMQPDecodingLimits) {
            self.limits = limits
            elementBudget = input.readableBytes + limits.maximumElements
        }

        /// For a lone scalar (a descriptor), which has no elements.
        init() {
            limits = .init()
            elementBudget = 0
        }
    }

    static func value(
        _ buffer: inout ByteBuffer, _ reading: inout Reading, depth: Int = 0
    ) throws(AMQPDecodingError) -> AMQPValue {
        let code = try buffer.readAMQPByte()
        guard code == 0x00 else { return try body(of: code, &buffer, &reading, depth: depth) }
        guard depth < reading.limits.maximumDepth else {
            throw .malformed("value.too_deep", limit: reading.limits.maximumDepth)
        }
        let descriptor = try self.descriptor(&buffer)
        let described = try value(&buffer, &reading, depth: depth + 1)
        return .described(descriptor: descriptor, value: described)
    }

    /// A descriptor: a `ulong` code or a `symbol` name (§1.5); anything else is refused before it is read,
    /// so that a descriptor cannot nest (a described list as a descriptor would recurse past the depth limit).
    static func descriptor(_ buffer: inout ByteBuffer) throws(AMQPDecodingError) -> AMQPDescriptor {
        let code = try buffer.readAMQPByte()
        guard [0x44, 0x53, 0x80, 0xA3, 0xB3].contains(code) else { throw .malformed("descriptor.not_code_or_name") }
        var scalar = Reading()
        switch try body(of: code, &buffer, &scalar, depth: 0) {
        case .ulong(let value): return .code(value)
        case .symbol(let name): return .name(name)
        default: throw .malformed("descriptor.not_code_or_name")
        }
    }

    /// The value a format code introduces, read without its constructor (as array elements are written).
    static func body(
        of code: UInt8, _ buffer: inout ByteBuffer, _ reading: inout Reading, depth: Int
    ) throws(AMQPDecodingError) -> AMQPValue {
        // The one-byte forms widen what they read (`truncatingIfNeeded:` sign-extends).
        switch code {
        case 0x40: return .null
        case 0x41: return .bool(true)
        case 0x42: return .bool(false)
        case 0x56:
            switch try buffer.readAMQPByte() {
            case 0: return .bool(false)
            case 1: return .bool(true)
            default: throw .malformed("boolean.not_0_or_1")
            }
        case 0x50: return .ubyte(try buffer.readAMQPInteger())
        case 0x60: return .ushort(try buffer.readAMQPInteger())
        case 0x70: return .uint(try buffer.readAMQPInteger())
        case 0x52: return .uint(UInt32(truncatingIfNeeded: try buffer.readAMQPInteger(as: UInt8.self)))
        case 0x43: return .uint(0)
        case 0x80: return .ulong(try buffer.readAMQPInteger())
        case 0x53: return .ulong(UInt64(truncatingIfNeeded: try buffer.readAMQPInteger(as: UInt8.self)))
        case 0x44: return .ulong(0)
        case 0x51: return .byte(try buffer.readAMQPInteger())
        case 0x61: return .short(try buffer.readAMQPInteger())
        case 0x71: return .int(try buffer.readAMQPInteger())
        case 0x54: return .int(Int32(truncatingIfNeeded: try buffer.readAMQPInteger(as: Int8.self)))
        case 0x81: return .long(try buffer.readAMQPInteger())
        case 0x55: return .long(Int64(truncatingIfNeeded: try buffer.readAMQPInteger(as: Int8.self)))
        case 0x72: return .float(Float(bitPattern: try buffer.readAMQPInteger()))
        case 0x82: return .double(Double(bitPattern: try buffer.readAMQPInteger()))
        case 0x74: return .decimal32(try buffer.readAMQPInteger())
        case 0x84: return .decimal64(try buffer.readAMQPInteger())
        case 0x94: return .decimal128(high: try buffer.readAMQPInteger(), low: try buffer.readAMQPInteger())
        case 0x73: return .char(try buffer.readAMQPInteger())
        case 0x83: return .timestamp(try buffer.readAMQPInteger())
        case 0x98: return .uuid(AMQPUUID(high: try buffer.readAMQPInteger(), low: try buffer.readAMQPInteger()))
        case 0xA0, 0xB0: return .binary(try buffer.readAMQPSized(wide: code == 0xB0))
        case 0xA1, 0xB1:
            let bytes = try buffer.readAMQPSized(wide: code == 0xB1)
            guard let text = String(validating: bytes.readableBytesView, as: UTF8.self) else {
                throw .malformed("string.not_utf8")
            }
            return .string(text)
        case 0xA3, 0xB3:
            let bytes = try buffer.readAMQPSized(wide: code == 0xB3)
            guard bytes.readableBytesView.allSatisfy({ $0 < 0x80 }),
                let name = bytes.getString(at: bytes.readerIndex, length: bytes.readableBytes)
            else { throw .malformed("symbol.not_ascii") }
            return .symbol(name)
        case 0x45: return .list([])
        case 0xC0, 0xD0:
            var slice = try compound(&buffer, wide: code == 0xD0, limits: reading.limits, depth: depth)
            let count = try self.count(&slice, wide: code == 0xD0, width: 1, &reading)
            return .list(try elements(count, &slice, &reading, depth: depth))
        case 0xC1, 0xD1:
            var slice = try compound(&buffer, wide: code == 0xD1, limits: reading.limits, depth: depth)
            let count = try self.count(&slice, wide: code == 0xD1, width: 1, &reading)
            guard count % 2 == 0 else { throw .malformed("map.odd_count") }
            let flat = try elements(count, &slice, &reading, depth: depth)
            return .map(stride(from: 0, to: flat.count, by: 2).map { AMQPMapEntry(flat[$0], flat[$0 + 1]) })
        case 0xE0, 0xF0:
            var slice = try compound(&buffer, wide: code == 0xF0, limits: reading.limits, depth: depth)
            return .array(try array(&slice, wide: code == 0xF0, &reading, depth: depth))
        default:
            throw .malformed("format_code.unknown")
        }
    }

    /// A compound's bytes after its size field, checked against the depth limit.
    private static func compound(
        _ buffer: inout ByteBuffer, wide: Bool, limits: AMQPDecodingLimits, depth: Int
    ) throws(AMQPDecodingError) -> ByteBuffer {
        guard depth < limits.maximumDepth else { throw .malformed("value.too_deep", limit: limits.maximumDepth) }
        return try buffer.readAMQPSized(wide: wide)
    }

    /// The count at the start of a compound's bytes (one byte, or four when `wide`), within the limit and
    /// within what the bytes can hold at `width` bytes at least per element.
    private static func count(
        _ slice: inout ByteBuffer, wide: Bool, width: Int, _ reading: inout Reading
    ) throws(AMQPDecodingError) -> Int {
        // total: widens a UInt32 or a UInt8.
        let count = wide ? Int(try slice.readAMQPInteger(as: UInt32.self)) : Int(try slice.readAMQPByte())
        try check(count, width: width, within: slice.readableBytes, &reading)
        return count
    }

    private static func check(
        _ count: Int, width: Int, within bytes: Int, _ reading: inout Reading
    ) throws(AMQPDecodingError) {
        guard count <= reading.limits.maximumElements, count <= reading.elementBudget else {
            throw AMQPDecodingError(
                .resourceLimitExceeded, "compound.too_many_elements", limit: reading.limits.maximumElements)
        }
        reading.elementBudget -= count
        // total: a count is below 2^32 and a width at most 16.
        guard count * width <= bytes else { throw .malformed("compound.count_exceeds_size") }
    }

    /// `count` values, each with its constructor, that fill the slice exactly.
    private static func elements(
        _ count: Int, _ slice: inout ByteBuffer, _ reading: inout Reading, depth: Int
    ) throws(AMQPDecodingError) -> [AMQPValue] {
        var elements: [AMQPValue] = []
        elements.reserveCapacity(count)
        for _ in 0..<count { elements.append(try value(&slice, &reading, depth: depth + 1)) }
        guard slice.readableBytes == 0 else { throw .malformed("compound.size_exceeds_elements") }
        return elements
    }

    /// An array's count, its one constructor (a described one names its descriptor once) and its elements'
    /// bodies, which fill the slice exactly.
    private static func array(
        _ slice: inout ByteBuffer, wide: Bool, _ reading: inout Reading, depth: Int
    ) throws(AMQPDecodingError) -> AMQPArray {
        // total: widens a UInt32 or a UInt8.
        let count = wide ? Int(try slice.readAMQPInteger(as: UInt32.self)) : Int(try slice.readAMQPByte())
        var code = try slice.readAMQPByte()
        var descriptor: AMQPDescriptor?
        if code == 0x00 {
            descriptor = try self.descriptor(&slice)
            code = try slice.readAMQPByte()
        }
        guard let width = minimumWidth(of: code) else { throw .malformed("array.format_code_unknown") }
        try check(count, width: width, within: slice.readableBytes, &reading)
        var elements: [AMQPValue] = []
        elements.reserveCapacity(count)
        for _ in 0..<count { elements.append(try body(of: code, &slice, &reading, depth: depth + 1)) }
        guard slice.readableBytes == 0 else { throw .malformed("compound.size_exceeds_elements") }
        // Compound elements are written back in their four-byte forms, which hold whatever they hold.
        let written: UInt8 =
            switch code {
            case 0xC0: 0xD0
            case 0xC1: 0xD1
            case 0xE0: 0xF0
            default: code
            }
        return AMQPArray(formatCode: written, descriptor: descriptor, elements: elements)
    }

    /// The fewest bytes an element of this format code takes without its constructor; nil for an unknown code.
    static func minimumWidth(of code: UInt8) -> Int? {
        switch code {
        case 0x40, 0x41, 0x42, 0x43, 0x44, 0x45: 0
        case 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0xA0, 0xA1, 0xA3: 1
        case 0x60, 0x61: 2
        case 0x70, 0x71, 0x72, 0x73, 0x74, 0xB0, 0xB1, 0xB3: 4
        case 0x80, 0x81, 0x82, 0x83, 0x84: 8
        case 0x94, 0x98: 16
        case 0xC0, 0xC1, 0xE0: 2
        case 0xD0, 0xD1, 0xF0: 8
        default: nil
        }
    }
}

extension ByteBuffer {
    mutating func readAMQPByte() throws(AMQPDecodingError) -> UInt8 {
        guard let byte = readInteger(as: UInt8.self) else { throw .malformed("value.truncated") }
        return byte
    }

    mutating func readAMQPInteger<Integer: FixedWidthInteger>(
        as: Integer.Type = Integer.self
    ) throws(AMQPDecodingError) -> Integer {
        guard let value = readInteger(endianness: .big, as: Integer.self) else { throw .malformed("value.truncated") }
        return value
    }

    /// The bytes after a one-byte (or four-byte, when `wide`) size, as a slice of this buffer.
    mutating func readAMQPSized(wide: Bool) throws(AMQPDecodingError) -> ByteBuffer {
        // total: widens a UInt32 or a UInt8.
        let size = wide ? Int(try readAMQPInteger(as: UInt32.self)) : Int(try readAMQPByte())
        guard let slice = readSlice(length: size) else { throw .malformed("size.exceeds_bytes") }
        return slice
    }
}
