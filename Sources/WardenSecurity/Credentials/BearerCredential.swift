import Crypto
import Foundation
public import WardenCore

/// A high-entropy bearer secret (the bootstrap admin credential): shown once, stored only as a hash.
///
/// The stored hash is HMAC-SHA256 under a fixed, public key: with 256 random bits a slow hash adds nothing,
/// and swift-crypto's `isValidAuthenticationCode` gives the constant-time comparison.
public enum BearerCredential {
    private static let hashKey = SymmetricKey(data: Data("warden.bearer-credential.v1".utf8))

    /// A fresh credential: `wdn_` and 43 base64url characters.
    public static func generate() -> SecretBytes {
        let random = SecretBytes.random(count: 32)
        let text =
            "wdn_"
            + Data(random.bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return SecretBytes(Array(text.utf8))
    }

    /// The hash that the store keeps.
    public static func hash(_ credential: SecretBytes) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: credential.bytes, using: hashKey))
    }

    /// Whether `presented` hashes to `storedHash`, compared in constant time.
    public static func matches(_ presented: some StringProtocol, storedHash: [UInt8]) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(storedHash, authenticating: Data(presented.utf8), using: hashKey)
    }
}
