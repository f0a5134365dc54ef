import CWardenPKCS11
import Foundation
import WardenCore
import WardenSecurity

/// The key the master key is wrapped under, kept in a PKCS #11 token (an HSM, or SoftHSM2): a non-extractable
/// AES-256 key labelled `warden-master`, generated inside the token the first time. Wrapping and unwrapping
/// (AES-256-GCM) happen in the token; only the wrapped master key is on disk (`master.key.wrapped`).
final class HardwareKey {
    static let label = "warden-master"
    /// What the wrapped master key is bound to (GCM's additional data).
    static let context = Array("warden.master-key.wrapped".utf8)

    private let token: OpaquePointer

    /// Opens the token and finds (or makes) the key; the PIN is used once and not kept.
    init(_ hsm: ServerConfiguration.HSM) throws(WardenError) {
        var error = [CChar](repeating: 0, count: 512)
        let pin = String(decoding: hsm.pin?.bytes ?? [], as: UTF8.self)
        guard
            let token = warden_pkcs11_open(
                hsm.module, hsm.tokenLabel, pin, Self.label, 1, &error, error.count)
        else {
            let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw WardenError(.masterKeyInvalid, "The HSM cannot be used: \(reason)")
        }
        self.token = token
    }

    deinit {
        warden_pkcs11_close(token)
    }

    /// `0x01 ‖ nonce (12) ‖ ciphertext ‖ tag (16)` of `key`, encrypted in the token.
    func wrap(_ key: SecretBytes) throws(WardenError) -> [UInt8] {
        let nonce = SecretBytes.random(count: 12).bytes
        var output = [UInt8](repeating: 0, count: key.bytes.count + 16)
        var length = output.count
        let rv = warden_pkcs11_encrypt(
            token, nonce, nonce.count, Self.context, Self.context.count, key.bytes, key.bytes.count, &output, &length)
        guard rv == 0 else {
            throw WardenError(.sealingFailed, "The HSM could not wrap the master key (0x\(String(rv, radix: 16))).")
        }
        return [1] + nonce + output.prefix(length)
    }

    /// The master key from its wrapped form, decrypted in the token.
    func unwrap(_ wrapped: [UInt8]) throws(WardenError) -> SecretBytes {
        guard wrapped.count > 1 + 12 + 16, wrapped[0] == 1 else {
            throw WardenError(.masterKeyInvalid, "master.key.wrapped is not a wrapped master key.")
        }
        let nonce = Array(wrapped[1..<13])
        let sealed = Array(wrapped[13...])
        var output = [UInt8](repeating: 0, count: sealed.count)
        var length = output.count
        let rv = warden_pkcs11_decrypt(
            token, nonce, nonce.count, Self.context, Self.context.count, sealed, sealed.count, &output, &length)
        guard rv == 0 else {
            throw WardenError(
                .masterKeyInvalid,
                "The HSM's key does not unwrap master.key.wrapped (0x\(String(rv, radix: 16))): another token?")
        }
        return SecretBytes(Array(output.prefix(length)))
    }
}
