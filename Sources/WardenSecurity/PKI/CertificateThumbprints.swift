import Crypto
public import WardenCore

extension Thumbprint {
    /// The SHA-1 and SHA-256 thumbprints of a DER certificate: a device registered with either matches.
    public static func of(certificate der: [UInt8]) -> [Thumbprint] {
        [hex(Insecure.SHA1.hash(data: der)), hex(SHA256.hash(data: der))].compactMap { try? Thumbprint($0) }
    }

    /// Upper-case hex, the form `Thumbprint` stores.
    private static func hex(_ digest: some Digest) -> String {
        Hex.encode(digest, uppercase: true)
    }
}
