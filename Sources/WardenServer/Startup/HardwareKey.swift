import CWardenPKCS11
import Crypto
import Foundation
import Synchronization
import WardenCore
import WardenSecurity

/// A PKCS #11 token (an HSM, or SoftHSM2), open for the life of the process. It keeps the key the master key is
/// wrapped under — a non-extractable AES-256 key labelled `warden-master`, generated inside the token the first
/// time; wrapping and unwrapping (AES-256-GCM) happen in the token, and only the wrapped master key is on disk
/// (`master.key.wrapped`) — and issuing CAs' P-256 keys, which sign inside it.
final class HardwareKey: HardwareSigner {
    static let label = "warden-master"
    /// What the wrapped master key is bound to (GCM's additional data).
    static let context = Array("warden.master-key.wrapped".utf8)

    /// One session, used by one call at a time: a PKCS #11 session is not for concurrent use.
    private let token: Mutex<OpaquePointer>

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
        self.token = Mutex(token)
    }

    deinit {
        token.withLock { warden_pkcs11_close($0) }
    }

    /// `0x01 ‖ nonce (12) ‖ ciphertext ‖ tag (16)` of `key`, encrypted in the token.
    func wrap(_ key: SecretBytes) throws(WardenError) -> [UInt8] {
        let nonce = SecretBytes.random(count: 12).bytes
        var output = [UInt8](repeating: 0, count: key.bytes.count + 16)
        var length = output.count
        let rv = token.withLock {
            warden_pkcs11_encrypt(
                $0, nonce, nonce.count, Self.context, Self.context.count, key.bytes, key.bytes.count, &output, &length)
        }
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
        let rv = token.withLock {
            warden_pkcs11_decrypt(
                $0, nonce, nonce.count, Self.context, Self.context.count, sealed, sealed.count, &output, &length)
        }
        guard rv == 0 else {
            throw WardenError(
                .masterKeyInvalid,
                "The HSM's key does not unwrap master.key.wrapped (0x\(String(rv, radix: 16))): another token?")
        }
        return SecretBytes(Array(output.prefix(length)))
    }

    // MARK: HardwareSigner

    func generateP256(label: String) throws(WardenError) -> P256.Signing.PublicKey {
        try point(label, generate: true)
    }

    func publicKeyP256(label: String) throws(WardenError) -> P256.Signing.PublicKey {
        try point(label, generate: false)
    }

    func signP256(digest: [UInt8], label: String) throws(WardenError) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: 132)
        var length = signature.count
        let rv = token.withLock { warden_pkcs11_sign($0, label, digest, digest.count, &signature, &length) }
        guard rv == 0 else {
            throw WardenError(.internalError, "The HSM could not sign with '\(label)' (0x\(String(rv, radix: 16))).")
        }
        return Array(signature.prefix(length))
    }

    /// A P-256 public key the token writes as an uncompressed point: of a pair it generates, or finds.
    private func point(_ label: String, generate: Bool) throws(WardenError) -> P256.Signing.PublicKey {
        var point = [UInt8](repeating: 0, count: 133)
        var length = point.count
        let rv = token.withLock {
            generate
                ? warden_pkcs11_generate_p256($0, label, &point, &length)
                : warden_pkcs11_p256_point($0, label, &point, &length)
        }
        guard rv == 0, let key = try? P256.Signing.PublicKey(x963Representation: point.prefix(length)) else {
            let what = generate ? "generate a key pair" : "find the key pair"
            throw WardenError(.internalError, "The HSM could not \(what) '\(label)' (0x\(String(rv, radix: 16))).")
        }
        return key
    }
}
