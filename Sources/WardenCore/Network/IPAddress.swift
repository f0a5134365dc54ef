#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address as bytes; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is its IPv4 address.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, network order.
    public let bytes: [UInt8]

    /// Whether this is an IPv4 address.
    public var isIPv4: Bool { bytes.count == 4 }

    /// Parses dotted IPv4 or textual IPv6 (RFC 4291); nil for anything else.
    public init?(_ text: String) {
        if let v4 = Self.parse(text, family: AF_INET, count: 4) {
            self.bytes = v4
        } else if let v6 = Self.parse(text, family: AF_INET6, count: 16) {
            let isMapped = v6[0..<10].allSatisfy { $0 == 0 } && v6[10] == 0xFF && v6[11] == 0xFF
            self.bytes = isMapped ? Array(v6[12...]) : v6
        } else {
            return nil
        }
    }

    /// 0.0.0.0: where a peer's address is unknown (in-process tests).
    public static let unspecified = IPAddress(unchecked: [0, 0, 0, 0])

    private init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Wraps 4 or 16 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    private static func parse(_ text: String, family: Int32, count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        let parsed = buffer.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        return parsed == 1 ? buffer : nil
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: 64)
        let family = isIPv4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { source in
            inet_ntop(family, source.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        guard ok, let end = buffer.firstIndex(of: 0) else { return "?" }
        return String(decoding: buffer[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
