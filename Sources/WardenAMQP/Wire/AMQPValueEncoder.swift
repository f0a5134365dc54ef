public import NIOCore

extension ByteBuffer {
    /// Writes a value in its smallest encoding (§1.6: `uint0`, `smallulong`, `str8`, `list8`…).
    public mutating func writeAMQPValue(_ value: AMQPValue) {
        switch value {
        case .described(let descriptor, let described):
            writeInteger(UInt8(0x00))
            writeAMQPDescriptor(descriptor)
            writeAMQPValue(described)
        case .list(let elements) where elements.isEmpty:
            writeInteger(UInt8(0x45))
        case .list, .map, .array:
            writeAMQPCompound(value)
        default:
            let code = value.primitiveFormatCode
            writeInteger(code)
            writeAMQPBody(value, as: code)
        }
    }

    mutating func writeAMQPDescriptor(_ descriptor: AMQPDescriptor) {
        switch descriptor {
        case .code(let code): writeAMQPValue(.ulong(code))
        case .name(let name): writeAMQPValue(.symbol(name))
        }
    }

    /// A value's bytes after its constructor, in `code`: its smallest primitive code, or its array's code,
    /// which every element was read in (compound elements always in their four-byte forms).
    mutating func writeAMQPBody(_ value: AMQPValue, as code: UInt8) {
        switch value {
        case .null: break
        case .bool(let bool): if code == 0x56 { writeInteger(bool ? 1 : 0 as UInt8) }
        case .ubyte(let number): writeInteger(number)
        case .ushort(let number): writeInteger(number)
        // total below: a one-byte code is chosen (or was read) only for a value that fits it.
        case .uint(let number):
            switch code {
            case 0x43: break
            case 0x52: writeInteger(UInt8(truncatingIfNeeded: number))
            default: writeInteger(number)
            }
        case .ulong(let number):
            switch code {
            case 0x44: break
            case 0x53: writeInteger(UInt8(truncatingIfNeeded: number))
            default: writeInteger(number)
            }
        case .byte(let number): writeInteger(number)
        case .short(let number): writeInteger(number)
        case .int(let number):
            if code == 0x54 { writeInteger(Int8(truncatingIfNeeded: number)) } else { writeInteger(number) }
        case .long(let number):
            if code == 0x55 { writeInteger(Int8(truncatingIfNeeded: number)) } else { writeInteger(number) }
        case .float(let number): writeInteger(number.bitPattern)
        case .double(let number): writeInteger(number.bitPattern)
        case .decimal32(let bits): writeInteger(bits)
        case .decimal64(let bits): writeInteger(bits)
        case .decimal128(let high, let low):
            writeInteger(high)
            writeInteger(low)
        case .char(let scalar): writeInteger(scalar)
        case .timestamp(let milliseconds): writeInteger(milliseconds)
        case .uuid(let uuid):
            writeInteger(uuid.high)
            writeInteger(uuid.low)
        case .binary(let bytes): writeAMQPSized(wide: code == 0xB0) { $0.writeImmutableBuffer(bytes) }
        case .string(let text): writeAMQPSized(wide: code == 0xB1) { $0.writeString(text) }
        case .symbol(let name): writeAMQPSized(wide: code == 0xB3) { $0.writeString(name) }
        case .list(let elements):
            if code != 0x45 { writeAMQPWideBody(count: elements.count) { for e in elements { $0.writeAMQPValue(e) } } }
        case .map(let entries): writeAMQPWideBody(count: entries.count * 2) { $0.writeAMQPEntries(entries) }
        case .array(let array): writeAMQPWideBody(count: array.elements.count) { $0.writeAMQPArrayElements(array) }
        case .described(let descriptor, let described):
            writeAMQPDescriptor(descriptor)
            writeAMQPValue(described)
        }
    }

    private mutating func writeAMQPEntries(_ entries: [AMQPMapEntry]) {
        for entry in entries {
            writeAMQPValue(entry.key)
            writeAMQPValue(entry.value)
        }
    }

    /// An array's one constructor (with its descriptor) and its elements' bodies.
    private mutating func writeAMQPArrayElements(_ array: AMQPArray) {
        if let descriptor = array.descriptor {
            writeInteger(UInt8(0x00))
            writeAMQPDescriptor(descriptor)
        }
        writeInteger(array.formatCode)
        for element in array.elements { writeAMQPBody(element, as: array.formatCode) }
    }

    /// A list, map or array with its constructor: written in the four-byte form, then narrowed to the
    /// one-byte form when its size and count fit, so that nothing is measured before it is written.
    private mutating func writeAMQPCompound(_ value: AMQPValue) {
        let (narrow, wide, count): (UInt8, UInt8, Int) =
            switch value {
            case .list(let elements): (0xC0, 0xD0, elements.count)
            case .map(let entries): (0xC1, 0xD1, entries.count * 2)
            case .array(let array): (0xE0, 0xF0, array.elements.count)
            default: (0x40, 0x40, 0)
            }
        let start = writerIndex
        writeInteger(wide)
        writeAMQPBody(value, as: wide)
        let elementBytes = writerIndex - start - 9
        guard count <= 255, elementBytes < 255 else { return }
        setInteger(narrow, at: start)
        setInteger(UInt8(truncatingIfNeeded: elementBytes + 1), at: start + 1)
        setInteger(UInt8(truncatingIfNeeded: count), at: start + 2)
        // Cannot fail: both ranges lie within what was just written (they overlap, which copyBytes allows).
        _ = try? copyBytes(at: start + 9, to: start + 3, length: elementBytes)
        moveWriterIndex(to: writerIndex - 6)
    }

    /// Size (counting the count field) and count, four bytes each, then the elements.
    private mutating func writeAMQPWideBody(count: Int, _ write: (inout ByteBuffer) -> Void) {
        writeAMQPSized(wide: true) { buffer in
            buffer.writeInteger(UInt32(truncatingIfNeeded: count))
            write(&buffer)
        }
    }

    private mutating func writeAMQPSized(wide: Bool, _ write: (inout ByteBuffer) -> Void) {
        let sizeIndex = writerIndex
        if wide { writeInteger(UInt32(0)) } else { writeInteger(UInt8(0)) }
        let start = writerIndex
        write(&self)
        // total: a one-byte size is chosen only for at most 255 bytes; a frame is far below 4 GiB.
        let size = writerIndex - start
        if wide {
            setInteger(UInt32(truncatingIfNeeded: size), at: sizeIndex)
        } else {
            setInteger(UInt8(truncatingIfNeeded: size), at: sizeIndex)
        }
    }
}

extension AMQPValue {
    /// The narrowest format code that holds a primitive value (compounds and described values are written
    /// by `writeAMQPValue` itself).
    var primitiveFormatCode: UInt8 {
        switch self {
        case .null, .list, .map, .array, .described: 0x40
        case .bool(let bool): bool ? 0x41 : 0x42
        case .ubyte: 0x50
        case .ushort: 0x60
        case .uint(let number): number == 0 ? 0x43 : number < 256 ? 0x52 : 0x70
        case .ulong(let number): number == 0 ? 0x44 : number < 256 ? 0x53 : 0x80
        case .byte: 0x51
        case .short: 0x61
        case .int(let number): Int8(exactly: number) != nil ? 0x54 : 0x71
        case .long(let number): Int8(exactly: number) != nil ? 0x55 : 0x81
        case .float: 0x72
        case .double: 0x82
        case .decimal32: 0x74
        case .decimal64: 0x84
        case .decimal128: 0x94
        case .char: 0x73
        case .timestamp: 0x83
        case .uuid: 0x98
        case .binary(let bytes): bytes.readableBytes < 256 ? 0xA0 : 0xB0
        case .string(let text): text.utf8.count < 256 ? 0xA1 : 0xB1
        case .symbol(let name): name.utf8.count < 256 ? 0xA3 : 0xB3
        }
    }
}
