import Crypto
import Foundation
public import WardenCore

/// A high-entropy bearer secret (the bootstrap admin credential, refresh tokens, API keys, service principal
/// secrets): shown once, stored only as a hash.
///
/// The stored hash is HMAC-SHA256 under a fixed, public key: with 128 or more random bits a slow hash adds
/// nothing, and swift-crypto's `isValidAuthenticationCode` gives the constant-time comparison. The prefix
/// says what a leaked secret is (`wdn_` bootstrap admin, `wrt_` refresh token, `wak_` API key, `wsp_`
/// service principal secret), as secret scanners expect.
public enum BearerCredential {
    private static let hashKey = SymmetricKey(data: Data("warden.bearer-credential.v1".utf8))

    /// A fresh credential: `prefix` and `byteCount` random bytes in base64url (43 characters for 32 bytes).
    public static func generate(prefix: String = "wdn_", byteCount: Int = 32) -> SecretBytes {
        let random = SecretBytes.random(count: byteCount)
        return SecretBytes(Array((prefix + Data(random.bytes).base64URL).utf8))
    }

    /// The hash that the store keeps.
    public static func hash(_ credential: SecretBytes) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: credential.bytes, using: hashKey))
    }

    /// The hash of a presented credential, to look it up by (refresh tokens, API keys). An index lookup by
    /// this hash leaks nothing useful: finding a stored hash by timing means guessing 128 random bits.
    public static func hash(presented: some StringProtocol) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Data(presented.utf8), using: hashKey))
    }

    /// Whether `presented` hashes to `storedHash`, compared in constant time.
    public static func matches(_ presented: some StringProtocol, storedHash: [UInt8]) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(storedHash, authenticating: Data(presented.utf8), using: hashKey)
    }
}
