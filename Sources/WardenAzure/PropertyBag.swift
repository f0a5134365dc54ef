import WardenCore

/// The property bag of Azure IoT Hub's MQTT topics (anchors.md §1.3): the last topic level of
/// `devices/{id}/messages/events/{bag}` and `…/devicebound/{bag}`, written like a URL query,
/// `name=value&name2=value2`, each side percent-encoded (RFC 2396/3986; `+` is a plus sign, never a space,
/// as the Azure SDKs encode it). `name` alone means a null value, `name=` an empty one. Names starting with
/// `$` are system properties (`$.ct` content type, `$.ce` content encoding, `$.mid` message id, …).
public struct PropertyBag: Sendable, Hashable {
    /// One property, in the order the bag lists them; names may repeat.
    public struct Property: Sendable, Hashable {
        public let name: String
        /// nil for `name` without `=`.
        public let value: String?

        public init(_ name: String, _ value: String?) {
            self.name = name
            self.value = value
        }

        /// Whether this is a system property (`$`-prefixed).
        public var isSystem: Bool { name.hasPrefix("$") }
    }

    /// Why a bag does not parse.
    public enum ParseError: Error, Sendable, Hashable {
        /// A `%` not followed by two hex digits, or bytes that are not UTF-8 once decoded.
        case badEscape(position: Int)
        /// An empty name (`=value`, or `&&`).
        case emptyName(position: Int)
    }

    public var properties: [Property]

    public init(_ properties: [Property] = []) {
        self.properties = properties
    }

    /// The first value of `name` (nil when absent or null).
    public subscript(_ name: String) -> String? {
        properties.first { $0.name == name }?.value ?? nil
    }

    /// Parses the text of a bag (the whole last topic level). An empty text is an empty bag.
    public init(parsing text: Substring) throws(ParseError) {
        var properties: [Property] = []
        var offset = 0
        for pair in text.split(separator: "&", omittingEmptySubsequences: false) {
            defer { offset += pair.count + 1 }
            if pair.isEmpty, text.isEmpty { break }
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard !parts[0].isEmpty else { throw .emptyName(position: offset) }
            let name = try Self.decode(parts[0], at: offset)
            let value = parts.count == 2 ? try Self.decode(parts[1], at: offset + parts[0].count + 1) : nil
            properties.append(Property(name, value))
        }
        self.properties = properties
    }

    /// The bag's text: each name and value percent-encoded except RFC 3986 unreserved characters.
    public var text: String {
        properties.map { property in
            let name = Self.encode(property.name)
            return property.value.map { name + "=" + Self.encode($0) } ?? name
        }.joined(separator: "&")
    }

    private static func decode(_ text: Substring, at offset: Int) throws(ParseError) -> String {
        guard text.contains("%") else { return String(text) }
        switch PercentEncoding.decode(text.utf8) {
        case .badEscape(let at): throw .badEscape(position: offset + at)
        case .bytes(let bytes):
            guard let decoded = String(validating: bytes, as: UTF8.self) else { throw .badEscape(position: offset) }
            return decoded
        }
    }

    /// Azure's SDKs leave `$` of system property names unescaped.
    private static func encode(_ text: String) -> String {
        PercentEncoding.encode(text, alsoKeeping: "$")
    }
}
