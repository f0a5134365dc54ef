import NIOCore
import Testing

@testable import WardenAMQP

/// Values as python-qpid-proton encodes them (ProtonCaptures.swift), read by our decoder and written back.
struct AMQPValueTests {
    static let protonValues: [(String, [UInt8], AMQPValue)] = [
        ("null", ProtonCaptures.valueNull, .null),
        ("true", ProtonCaptures.valueTrue, .bool(true)),
        ("false", ProtonCaptures.valueFalse, .bool(false)),
        ("ubyte", ProtonCaptures.valueUbyte, .ubyte(200)),
        ("ushort", ProtonCaptures.valueUshort, .ushort(65000)),
        ("uint0", ProtonCaptures.valueUint0, .uint(0)),
        ("smalluint", ProtonCaptures.valueSmalluint, .uint(7)),
        ("uint", ProtonCaptures.valueUint, .uint(4_000_000_000)),
        ("ulong0", ProtonCaptures.valueUlong0, .ulong(0)),
        ("smallulong", ProtonCaptures.valueSmallulong, .ulong(9)),
        ("ulong", ProtonCaptures.valueUlong, .ulong(1 << 63 + 5)),
        ("byte", ProtonCaptures.valueByte, .byte(-5)),
        ("short", ProtonCaptures.valueShort, .short(-300)),
        ("smallint", ProtonCaptures.valueSmallint, .int(-7)),
        ("int", ProtonCaptures.valueInt, .int(-70000)),
        ("smalllong", ProtonCaptures.valueSmalllong, .long(-3)),
        ("long", ProtonCaptures.valueLong, .long(-(1 << 40))),
        ("double", ProtonCaptures.valueDouble, .double(1.5)),
        ("char", ProtonCaptures.valueChar, .char(0x2713)),
        ("timestamp", ProtonCaptures.valueTimestamp, .timestamp(1_800_000_000_123)),
        (
            "uuid", ProtonCaptures.valueUuid,
            .uuid(AMQPUUID(high: 0x1234_5678_9ABC_DEF0, low: 0x1122_3344_5566_7788))
        ),
        ("binary", ProtonCaptures.valueBinary, .binary(ByteBuffer(bytes: [0, 1, 0xFF]))),
        ("string", ProtonCaptures.valueString, .string("héllo")),
        ("long string", ProtonCaptures.valueLongString, .string(String(repeating: "x", count: 300))),
        ("symbol", ProtonCaptures.valueSymbol, .symbol("amqp:accepted:list")),
        ("list", ProtonCaptures.valueList, .list([.uint(1), .string("two"), .list([.null, .bool(true)])])),
        (
            "map", ProtonCaptures.valueMap,
            .map([AMQPMapEntry(.symbol("k"), .string("v")), AMQPMapEntry(.string("n"), .ulong(3))])
        ),
        ("symbol array", ProtonCaptures.valueSymbolArray, .array(.symbols(["MSSBCBS", "ANONYMOUS"]))),
        ("described", ProtonCaptures.valueDescribed, .described(descriptor: .code(0x24), value: .list([]))),
    ]

    @Test(arguments: protonValues.indices)
    func protonsEncodingReadsAsTheValueAndWritesBackToIt(_ index: Int) throws {
        let (name, bytes, expected) = Self.protonValues[index]
        var buffer = ByteBuffer(bytes: bytes)
        let value = try AMQPValueDecoder.decode(&buffer)
        #expect(value == expected, "\(name)")
        #expect(buffer.readableBytes == 0, "\(name) consumed whole")
        var written = ByteBuffer()
        written.writeAMQPValue(value)
        #expect(try AMQPValueDecoder.decode(&written) == expected, "\(name) written back")
    }

    @Test(
        arguments: [
            (AMQPValue.uint(0), [0x43]), (.uint(255), [0x52, 0xFF]), (.uint(256), [0x70, 0, 0, 1, 0]),
            (.ulong(0), [0x44]), (.ulong(7), [0x53, 7]), (.int(-128), [0x54, 0x80]), (.long(127), [0x55, 0x7F]),
            (.list([]), [0x45]), (.list([.null]), [0xC0, 0x02, 0x01, 0x40]), (.map([]), [0xC1, 0x01, 0x00]),
            (.string("ab"), [0xA1, 0x02, 0x61, 0x62]),
            (.described(descriptor: .code(0x24), value: .list([])), [0x00, 0x53, 0x24, 0x45]),
        ] as [(AMQPValue, [UInt8])])
    func valuesAreWrittenInTheirSmallestForm(_ value: AMQPValue, _ bytes: [UInt8]) {
        var buffer = ByteBuffer()
        buffer.writeAMQPValue(value)
        #expect(Array(buffer.readableBytesView) == bytes)
    }

    @Test(arguments: [253, 254, 255, 300])
    func aListIsNarrowOnlyWhileItsBytesFitOneByte(_ length: Int) throws {
        let value = AMQPValue.list([.binary(ByteBuffer(repeating: 7, count: length - 2))])
        var buffer = ByteBuffer()
        buffer.writeAMQPValue(value)
        #expect(buffer.getInteger(at: 0, as: UInt8.self) == (length - 2 + 2 < 255 ? 0xC0 : 0xD0))
        #expect(try AMQPValueDecoder.decode(&buffer) == value)
    }

    @Test func aNestedArrayOfListsWritesBackWhatItRead() throws {
        // array8 of list8 elements: compound elements are written back in their four-byte form.
        var buffer = ByteBuffer(bytes: [0xE0, 0x08, 0x02, 0xC0, 0x02, 0x01, 0x40, 0x02, 0x01, 0x41])
        let value = try AMQPValueDecoder.decode(&buffer)
        #expect(value == .array(AMQPArray(formatCode: 0xD0, elements: [.list([.null]), .list([.bool(true)])])))
        var written = ByteBuffer()
        written.writeAMQPValue(value)
        #expect(try AMQPValueDecoder.decode(&written) == value)
    }

    @Test(
        arguments: [
            ([0xA1, 0x05, 0x61], "size.exceeds_bytes"),
            ([0x70, 0x00], "value.truncated"),
            ([0x56, 0x02], "boolean.not_0_or_1"),
            ([0x01], "format_code.unknown"),
            ([0xA1, 0x01, 0xFF], "string.not_utf8"),
            ([0xA3, 0x01, 0xC3], "symbol.not_ascii"),
            ([0xC0, 0x03, 0x05, 0x40, 0x40], "compound.count_exceeds_size"),
            ([0xC0, 0x03, 0x01, 0x40, 0x40], "compound.size_exceeds_elements"),
            ([0xC1, 0x02, 0x01, 0x40], "map.odd_count"),
            ([0xE0, 0x02, 0x03, 0x01], "array.format_code_unknown"),
            ([0xE0, 0x01, 0x03], "value.truncated"),
            ([0xF0, 0x00, 0x00, 0x00, 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0x40], "compound.too_many_elements"),
            ([0xE0, 0x03, 0x03, 0x70, 0x00], "compound.count_exceeds_size"),
            ([0x00, 0xA1, 0x01, 0x61, 0x40], "descriptor.not_code_or_name"),
            ([0xD0, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00], "size.exceeds_bytes"),
        ] as [([UInt8], String)])
    func hostileBytesAreRefusedByName(_ bytes: [UInt8], _ rule: String) {
        var buffer = ByteBuffer(bytes: bytes)
        do {
            let value = try AMQPValueDecoder.decode(&buffer)
            Issue.record("read as \(value)")
        } catch {
            #expect(error.rule == rule)
        }
    }

    @Test func nestingDeeperThanTheLimitIsRefused() {
        // 40 lists, each holding the next: 0xC0 size 1+rest, count 1.
        var bytes: [UInt8] = [0x45]
        for _ in 0..<40 { bytes = [0xC0, UInt8(bytes.count + 1), 0x01] + bytes }
        var buffer = ByteBuffer(bytes: bytes)
        #expect(throws: AMQPDecodingError.malformed("value.too_deep", limit: 32)) {
            try AMQPValueDecoder.decode(&buffer)
        }
        var described = ByteBuffer(bytes: Array(repeating: [0x00, 0x53, 0x01], count: 40).flatMap { $0 } + [0x40])
        #expect(throws: AMQPDecodingError.malformed("value.too_deep", limit: 32)) {
            try AMQPValueDecoder.decode(&described)
        }
    }

    @Test func aDescriptorCannotNest() {
        // A described value whose descriptor is a list holding a described value, ten thousand deep.
        var bytes: [UInt8] = [0x40]
        for _ in 0..<10_000 {
            let size = UInt32(bytes.count + 4)
            bytes = [0x00, 0xD0] + withUnsafeBytes(of: size.bigEndian, Array.init) + [0, 0, 0, 1] + bytes
        }
        var buffer = ByteBuffer(bytes: bytes)
        #expect(throws: AMQPDecodingError.malformed("descriptor.not_code_or_name")) {
            try AMQPValueDecoder.decode(&buffer)
        }
    }

    @Test func arraysOfNothingCannotMultiplyTheirBytes() {
        // An array of 4,096 arrays each claiming 4,096 nulls: 16.7M values from 37 KB, were nulls free.
        // Each inner array's body after the outer array's constructor: size 5, count 4,096, constructor null.
        let inner: [UInt8] = [0, 0, 0, 5, 0, 0, 0x10, 0, 0x40]
        var bytes: [UInt8] = [0xF0] + withUnsafeBytes(of: UInt32(5 + 4096 * 9).bigEndian, Array.init) + [0, 0, 0x10, 0]
        bytes.append(0xF0)
        for _ in 0..<4096 { bytes += inner }
        var buffer = ByteBuffer(bytes: bytes)
        #expect(throws: AMQPDecodingError(.resourceLimitExceeded, "compound.too_many_elements", limit: 4096)) {
            try AMQPValueDecoder.decode(&buffer)
        }
    }

    @Test func aMessagesSectionsShareOneElementBudget() {
        // Many small sequence sections, each a list holding an array of 255 nulls in 10 bytes.
        let section: [UInt8] = [0x00, 0x53, 0x76, 0xC0, 0x05, 0x01, 0xE0, 0x02, 0xFF, 0x40]
        var bytes: [UInt8] = []
        for _ in 0..<1000 { bytes += section }
        #expect(throws: AMQPDecodingError(.resourceLimitExceeded, "compound.too_many_elements", limit: 4096)) {
            try AMQPMessage(decoding: ByteBuffer(bytes: bytes))
        }
    }

    @Test func anArrayOfNullsCannotClaimMoreElementsThanTheLimit() throws {
        // Four billion nulls would take no byte each.
        var buffer = ByteBuffer(bytes: [0xF0, 0x00, 0x00, 0x00, 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0x40])
        #expect(throws: AMQPDecodingError.self) { try AMQPValueDecoder.decode(&buffer) }
        var few = ByteBuffer(bytes: [0xE0, 0x02, 0x10, 0x40])
        guard case .array(let array) = try AMQPValueDecoder.decode(&few) else {
            Issue.record("not an array")
            return
        }
        #expect(array.elements == Array(repeating: .null, count: 16))
    }
}
