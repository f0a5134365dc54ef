import Crypto
import Foundation
public import WardenCore

/// The 256-bit key every secret at rest is sealed under.
///
/// It lives in `DATA_DIR/master.key` (mode 0600) or comes from `WARDEN_MASTER_KEY`, base64 either way.
/// Its identifier, a hash of the key, is stored in every envelope so that a wrong key is named as such.
public struct MasterKey: Sendable, CustomStringConvertible {
    /// The AES-256 key.
    let key: SymmetricKey
    /// The first 8 bytes of SHA-256("warden.master-key.id" ‖ key): identifies the key, reveals nothing.
    public let identifier: [UInt8]
    static let identifierLength = 8

    /// A fresh key from the OS CSPRNG.
    public static func generate() -> MasterKey {
        MasterKey(key: SymmetricKey(size: .bits256))
    }

    /// Reads the base64 form; fails with `master_key.invalid` unless it decodes to exactly 32 bytes.
    public init(base64: String) throws(WardenError) {
        let trimmed = base64.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = Data(base64Encoded: trimmed), bytes.count == 32 else {
            throw WardenError(.masterKeyInvalid, "The master key must be 32 bytes in base64 (44 characters).")
        }
        self.init(key: SymmetricKey(data: bytes))
    }

    private init(key: SymmetricKey) {
        self.key = key
        var hash = SHA256()
        hash.update(data: Data("warden.master-key.id".utf8))
        key.withUnsafeBytes { hash.update(bufferPointer: $0) }
        self.identifier = Array(hash.finalize().prefix(Self.identifierLength))
    }

    /// A 256-bit key for one purpose, derived from the master key (HKDF-SHA256 with `label` as its info), so
    /// that no other component holds the master key itself.
    public func derivedKey(label: String) -> SecretBytes {
        let derived = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data(label.utf8), outputByteCount: 32)
        return SecretBytes(derived.withUnsafeBytes { Array($0) })
    }

    /// The base64 form, for writing the key file once.
    public var base64: String { key.withUnsafeBytes { Data($0).base64EncodedString() } }

    public var description: String { "<redacted>" }
}
