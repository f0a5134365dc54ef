import NIOCore

/// A performative's or section's fields (a described list) read by position, each with its declared type:
/// absent and `null` are the same; a value of another type is `amqp:invalid-field`, named by the field.
struct AMQPFields {
    let name: String
    let values: [AMQPValue]

    init(_ name: String, _ value: AMQPValue) throws(AMQPDecodingError) {
        self.name = name
        switch value {
        case .list(let values): self.values = values
        default: throw .invalidField("\(name).not_a_list")
        }
    }

    private func field(_ index: Int) -> AMQPValue? {
        guard index < values.count, values[index] != .null else { return nil }
        return values[index]
    }

    private func refuse(_ index: Int, _ expected: String) -> AMQPDecodingError {
        .invalidField("\(name).field_\(index)_not_\(expected)")
    }

    func required<Value>(
        _ index: Int, _ read: (Int) throws(AMQPDecodingError) -> Value?
    ) throws(AMQPDecodingError) -> Value {
        guard let value = try read(index) else { throw .invalidField("\(name).field_\(index)_missing") }
        return value
    }

    /// The field, when present, as `extract` finds it in its declared type.
    private func read<Value>(
        _ index: Int, _ expected: String, _ extract: (AMQPValue) -> Value?
    ) throws(AMQPDecodingError) -> Value? {
        guard let value = field(index) else { return nil }
        guard let typed = extract(value) else { throw refuse(index, expected) }
        return typed
    }

    func uint(_ index: Int) throws(AMQPDecodingError) -> UInt32? {
        try read(index, "uint") { if case .uint(let number) = $0 { number } else { nil } }
    }

    func ulong(_ index: Int) throws(AMQPDecodingError) -> UInt64? {
        try read(index, "ulong") { if case .ulong(let number) = $0 { number } else { nil } }
    }

    func ushort(_ index: Int) throws(AMQPDecodingError) -> UInt16? {
        try read(index, "ushort") { if case .ushort(let number) = $0 { number } else { nil } }
    }

    func ubyte(_ index: Int) throws(AMQPDecodingError) -> UInt8? {
        try read(index, "ubyte") { if case .ubyte(let number) = $0 { number } else { nil } }
    }

    func bool(_ index: Int) throws(AMQPDecodingError) -> Bool? {
        try read(index, "boolean") { if case .bool(let flag) = $0 { flag } else { nil } }
    }

    func string(_ index: Int) throws(AMQPDecodingError) -> String? {
        try read(index, "string") { if case .string(let text) = $0 { text } else { nil } }
    }

    func symbol(_ index: Int) throws(AMQPDecodingError) -> String? {
        try read(index, "symbol") { if case .symbol(let name) = $0 { name } else { nil } }
    }

    func timestamp(_ index: Int) throws(AMQPDecodingError) -> Int64? {
        try read(index, "timestamp") { if case .timestamp(let milliseconds) = $0 { milliseconds } else { nil } }
    }

    func binary(_ index: Int) throws(AMQPDecodingError) -> ByteBuffer? {
        try read(index, "binary") { if case .binary(let bytes) = $0 { bytes } else { nil } }
    }

    func map(_ index: Int) throws(AMQPDecodingError) -> [AMQPMapEntry]? {
        try read(index, "map") { if case .map(let entries) = $0 { entries } else { nil } }
    }

    /// A message or correlation id (§3.2.11–3.2.16): a ulong, uuid, binary or string.
    func messageID(_ index: Int) throws(AMQPDecodingError) -> AMQPValue? {
        try read(index, "message_id") {
            switch $0 {
            case .ulong, .uuid, .binary, .string: $0
            default: nil
            }
        }
    }

    /// A described value kept as it came (a terminus, a delivery state), checked only to be described.
    func described(_ index: Int) throws(AMQPDecodingError) -> AMQPValue? {
        try read(index, "described") { if case .described = $0 { $0 } else { nil } }
    }

    /// A field declared `multiple="true"` of symbols: one symbol, or an array of them (§1.6.21 note).
    func symbols(_ index: Int) throws(AMQPDecodingError) -> [String] {
        switch field(index) {
        case nil: return []
        case .symbol(let name): return [name]
        case .array(let array):
            var names: [String] = []
            for element in array.elements {
                guard case .symbol(let name) = element else { throw refuse(index, "symbols") }
                names.append(name)
            }
            return names
        default: throw refuse(index, "symbols")
        }
    }

    func error(_ index: Int) throws(AMQPDecodingError) -> AMQPError? {
        guard let value = field(index) else { return nil }
        return try AMQPError(value)
    }
}

extension AMQPValue {
    /// A described list of `fields` with trailing nulls left out (§1.4: absent fields at the end are omitted).
    static func performative(_ code: UInt64, _ fields: [AMQPValue?]) -> AMQPValue {
        var values = fields.map { $0 ?? .null }
        while values.last == .null { values.removeLast() }
        return .described(descriptor: .code(code), value: .list(values))
    }
}
