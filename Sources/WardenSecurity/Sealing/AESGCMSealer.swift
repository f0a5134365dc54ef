import Crypto
import Foundation
public import WardenCore

/// Seals secrets with AES-256-GCM under the master key.
///
/// Envelope, version 1: `0x01 ‖ master key id (8 bytes) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`. The caller's
/// context (for example `device:default/dev-1:primary`) is the additional authenticated data, so a sealed
/// value copied to another row does not open there.
public struct AESGCMSealer: SecretSealer {
    static let version: UInt8 = 1
    let masterKey: MasterKey

    /// Seals under `masterKey`.
    public init(masterKey: MasterKey) {
        self.masterKey = masterKey
    }

    /// The identifier of the key this sealer seals under.
    public var identifier: [UInt8] { masterKey.identifier }

    /// The master key identifier a version-1 envelope names, or nil when `sealed` is not one.
    static func identifier(of sealed: [UInt8]) -> [UInt8]? {
        let end = 1 + MasterKey.identifierLength
        guard sealed.count > end, sealed[0] == version else { return nil }
        return Array(sealed[1..<end])
    }

    public func seal(_ secret: SecretBytes, context: String) throws(WardenError) -> [UInt8] {
        do {
            let box = try AES.GCM.seal(secret.bytes, using: masterKey.key, authenticating: Data(context.utf8))
            guard let combined = box.combined else { throw WardenError(.sealingFailed, "AES-GCM gave no output.") }
            return [Self.version] + masterKey.identifier + Array(combined)
        } catch {
            throw WardenError(.sealingFailed, "Sealing a secret failed.")
        }
    }

    public func open(_ sealed: [UInt8], context: String) throws(WardenError) -> SecretBytes {
        let headerLength = 1 + MasterKey.identifierLength
        guard sealed.count > headerLength + 12 + 16, let identifier = Self.identifier(of: sealed) else {
            throw WardenError(.sealingFailed, "A sealed secret for \(context) is not a version-1 envelope.")
        }
        guard identifier == masterKey.identifier else {
            throw WardenError(
                .sealingFailed, "A sealed secret for \(context) was sealed under a different master key.")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed[headerLength...])
            let plain = try AES.GCM.open(box, using: masterKey.key, authenticating: Data(context.utf8))
            return SecretBytes(Array(plain))
        } catch {
            throw WardenError(.sealingFailed, "A sealed secret for \(context) failed authentication (tampered?).")
        }
    }
}
