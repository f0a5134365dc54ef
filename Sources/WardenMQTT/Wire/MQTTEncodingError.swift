/// Why a packet value cannot be put on the wire: MQTT carries strings and binary data with a two-byte
/// length, and a remaining length of at most 268,435,455 bytes. Values decoded from the wire always fit;
/// values the server builds (a topic from a property bag, a response topic with a request id) may not, and
/// must cost one message, never the process.
public struct MQTTEncodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was too long: `string`, `binary` or `packet`.
    public let field: String
    /// Its length in bytes.
    public let length: Int

    init(_ field: String, length: Int) {
        self.field = field
        self.length = length
    }

    public var description: String { "A \(field) of \(length) bytes does not fit an MQTT packet." }
}
