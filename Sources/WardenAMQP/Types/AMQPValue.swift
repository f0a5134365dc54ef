public import NIOCore

/// A value of the AMQP 1.0 type system (§1.6): what every performative, annotation and property is made of.
///
/// Binary values are slices of the buffer they were read from (no copy); maps keep their entries' order
/// and may repeat a key, as the wire does (a reader that cares checks, see `AMQPFields`).
public enum AMQPValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case ubyte(UInt8)
    case ushort(UInt16)
    case uint(UInt32)
    case ulong(UInt64)
    case byte(Int8)
    case short(Int16)
    case int(Int32)
    case long(Int64)
    case float(Float)
    case double(Double)
    /// IEEE 754 decimals are carried as their bits: nothing here computes with them.
    case decimal32(UInt32)
    case decimal64(UInt64)
    case decimal128(high: UInt64, low: UInt64)
    /// A UTF-32BE code point; not checked to be a valid scalar (the wire allows any 32 bits).
    case char(UInt32)
    /// Milliseconds since the Unix epoch.
    case timestamp(Int64)
    case uuid(AMQPUUID)
    case binary(ByteBuffer)
    case string(String)
    /// ASCII by the specification; kept as read.
    case symbol(String)
    case list([AMQPValue])
    case map([AMQPMapEntry])
    /// Every element of one type; `element` is the constructor's type, kept so an empty array says its type.
    case array(AMQPArray)
    /// The one case that holds a value directly, boxed; the rest are stored inline (no allocation for a `null`).
    indirect case described(descriptor: AMQPDescriptor, value: AMQPValue)
}

/// One key and value of an AMQP map, in wire order.
public struct AMQPMapEntry: Sendable, Hashable {
    public var key: AMQPValue
    public var value: AMQPValue

    public init(_ key: AMQPValue, _ value: AMQPValue) {
        self.key = key
        self.value = value
    }
}

/// An array's element type (a primitive format code, or a described type over one) and its elements.
public struct AMQPArray: Sendable, Hashable {
    /// The format code of every element (`0xA3` for symbols); every element is written in it.
    public private(set) var formatCode: UInt8
    /// The descriptor every element carries, when the array holds described values.
    public private(set) var descriptor: AMQPDescriptor?
    /// The elements, each the plain value (the descriptor is the array's).
    public private(set) var elements: [AMQPValue]

    /// Only the decoder and the named makers build arrays, so that every element fits the format code.
    init(formatCode: UInt8, descriptor: AMQPDescriptor? = nil, elements: [AMQPValue]) {
        self.formatCode = formatCode
        self.descriptor = descriptor
        self.elements = elements
    }

    /// Two arrays are equal when they hold the same type and elements, whatever widths they were written in.
    public static func == (left: AMQPArray, right: AMQPArray) -> Bool {
        left.descriptor == right.descriptor && left.elements == right.elements
            && elementType(of: left.formatCode) == elementType(of: right.formatCode)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(descriptor)
        hasher.combine(elements)
        hasher.combine(Self.elementType(of: formatCode))
    }

    /// The type a format code writes, the same for its narrow and wide forms (`sym8` and `sym32`).
    private static func elementType(of code: UInt8) -> UInt8 {
        switch code {
        case 0x41, 0x42: 0x56
        case 0x43, 0x52: 0x70
        case 0x44, 0x53: 0x80
        case 0x54: 0x71
        case 0x55: 0x81
        case 0xA0, 0xA1, 0xA3: code + 0x10
        case 0x45, 0xC0: 0xD0
        case 0xC1: 0xD1
        case 0xE0: 0xF0
        default: code
        }
    }

    /// An array of symbols (`sasl-server-mechanisms`, `offered-capabilities`): `sym32` when any is over 255 bytes.
    public static func symbols(_ symbols: [String]) -> AMQPArray {
        let long = symbols.contains { $0.utf8.count > 255 }
        return AMQPArray(formatCode: long ? 0xB3 : 0xA3, elements: symbols.map(AMQPValue.symbol))
    }
}

/// What a described value is: a numeric code (domain in the high 32 bits) or a symbolic name.
public enum AMQPDescriptor: Sendable, Hashable {
    case code(UInt64)
    case name(String)
}

/// A UUID as AMQP carries it: 16 bytes, network order.
public struct AMQPUUID: Sendable, Hashable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The canonical form (`8-4-4-4-12` lower-case hex).
    public var description: String {
        let hex = String(high, radix: 16).leftPadded(to: 16) + String(low, radix: 16).leftPadded(to: 16)
        var text = ""
        for (offset, character) in hex.enumerated() {
            if offset == 8 || offset == 12 || offset == 16 || offset == 20 { text.append("-") }
            text.append(character)
        }
        return text
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        // total: the count is at least 0.
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

extension AMQPValue {
    /// A string or symbol's text.
    public var text: String? {
        switch self {
        case .string(let text), .symbol(let text): text
        default: nil
        }
    }
}
