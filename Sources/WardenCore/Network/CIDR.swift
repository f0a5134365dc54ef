/// An address block such as `10.0.0.0/8` or `2001:db8::/32`; a bare address is a block of one.
public struct CIDR: Sendable, Hashable, CustomStringConvertible, Codable {
    /// The first address of the block (host bits cleared).
    public let network: IPAddress
    /// The number of leading bits that must match.
    public let prefixLength: Int

    /// Parses `address[/prefix]`; host bits must be zero so that a rule means what it says.
    public init(_ text: String) throws(WardenError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(String(parts[0])) else {
            throw WardenError(.cidrInvalid, "'\(text)' is not an IPv4 or IPv6 address or CIDR block.")
        }
        let maximum = address.bytes.count * 8
        var length = maximum
        if parts.count == 2 {
            // total: parses text: nil unless a number in range.
            guard let parsed = Int(parts[1]), (0...maximum).contains(parsed), parts[1].allSatisfy(\.isASCII) else {
                throw WardenError(.cidrInvalid, "'\(text)' has a prefix length outside 0...\(maximum).")
            }
            length = parsed
        }
        guard Self.masked(address.bytes, length) == address.bytes else {
            throw WardenError(
                .cidrInvalid, "'\(text)' has bits set after the /\(length) prefix; write the network address.")
        }
        self.network = address
        self.prefixLength = length
    }

    /// The block of `prefixLength` bits (at most the address's length) that holds `address`.
    public init(enclosing address: IPAddress, prefixLength: Int) {
        let length = min(max(prefixLength, 0), address.bytes.count * 8)
        // total: masking keeps the byte count, so the bytes are an address again.
        self.network = IPAddress(bytes: Self.masked(address.bytes, length)) ?? address
        self.prefixLength = length
    }

    /// Whether `address` lies in this block (IPv4 and IPv6 never match each other).
    public func contains(_ address: IPAddress) -> Bool {
        address.bytes.count == network.bytes.count && Self.masked(address.bytes, prefixLength) == network.bytes
    }

    private static func masked(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bits = min(max(length - index * 8, 0), 8)
            return bits == 8 ? byte : byte & ~(UInt8(0xFF) >> bits)
        }
    }

    public var description: String { "\(network)/\(prefixLength)" }

    public init(from decoder: any Decoder) throws {
        self = try CIDR(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
