import Foundation

/// Secret key material: printing it shows `<redacted>`, so it cannot leak through logs or interpolation.
///
/// Compare secrets with swift-crypto's MAC or digest types, never with `==` on the bytes.
public struct SecretBytes: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The raw bytes; read them only to hand them to a cipher or MAC.
    public let bytes: [UInt8]

    /// Wraps existing key material.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Fresh bytes from the operating system's CSPRNG (`getrandom` on Linux).
    public static func random(count: Int) -> SecretBytes {
        // Eight bytes per draw: the system generator makes a system call for each (a byte per draw cost six
        // for every denial's reference id).
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            let draw: UInt64 = generator.next()
            withUnsafeBytes(of: draw) { bytes.append(contentsOf: $0.prefix(count - bytes.count)) }
        }
        return SecretBytes(bytes)
    }

    /// Decodes standard base64 (the form Azure shows keys in); nil when it is not base64.
    public init?(base64: String) {
        guard let data = Data(base64Encoded: base64) else { return nil }
        self.bytes = Array(data)
    }

    /// The standard base64 form, for showing a key to its owner once.
    public var base64: String { Data(bytes).base64EncodedString() }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}
