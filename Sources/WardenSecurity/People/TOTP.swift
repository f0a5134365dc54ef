import Crypto
import ExtrasBase64
public import Foundation
public import WardenCore

/// Time-based one-time passwords (RFC 6238): HMAC-SHA1, 30-second steps, 6 digits — what every
/// authenticator app speaks.
public struct TOTP: Sendable {
    /// The shared secret (20 bytes, as RFC 4226 recommends for SHA-1).
    public let secret: SecretBytes
    static let step: TimeInterval = 30
    static let digits = 6

    public init(secret: SecretBytes) {
        self.secret = secret
    }

    /// A new secret from the OS CSPRNG.
    public static func generate() -> TOTP {
        TOTP(secret: .random(count: 20))
    }

    /// The secret in base32 (RFC 4648, no padding), as authenticator apps take it.
    public var base32Secret: String { String(base32Encoding: secret.bytes, options: [.omitPaddingCharacter]) }

    /// The `otpauth://` URI an authenticator app reads from a QR code or a paste.
    public func provisioningURI(account: String, issuer: String) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let label = "\(issuer):\(account)".addingPercentEncoding(withAllowedCharacters: allowed) ?? account
        let issuerParameter = issuer.addingPercentEncoding(withAllowedCharacters: allowed) ?? issuer
        return
            "otpauth://totp/\(label)?secret=\(base32Secret)&issuer=\(issuerParameter)&algorithm=SHA1&digits=6&period=30"
    }

    /// The time step `date` falls in.
    public static func timeStep(at date: Date) -> Int64 {
        Int64(clamping: (date.timeIntervalSince1970 / step).rounded(.down))
    }

    /// The code for one time step, zero-padded to six digits.
    public func code(forStep counter: Int64) -> String {
        var message = [UInt8](repeating: 0, count: 8)
        for index in 0..<8 {
            message[index] = UInt8(truncatingIfNeeded: UInt64(bitPattern: counter) >> (56 - 8 * index))
        }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: secret.bytes)))
        // total: widens bytes and 5-bit groups.
        let offset = Int(mac[mac.count - 1] & 0x0F)
        // total: widens bytes and 5-bit groups.
        let value =
            (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8)
            | UInt32(mac[offset + 3])
        let code = String(value % 1_000_000)
        // total: the code has at most 6 digits (value % 1,000,000).
        return String(repeating: "0", count: Self.digits - code.count) + code
    }

    /// The step `code` belongs to when it is valid at `date` (one step of clock drift either way) and newer
    /// than `lastUsedStep`, so that a code seen once cannot be replayed; nil otherwise.
    public func acceptedStep(for code: String, at date: Date, after lastUsedStep: Int64?) -> Int64? {
        guard code.utf8.count == Self.digits, code.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        let now = Self.timeStep(at: date)
        var accepted: Int64?
        // Every candidate is computed and compared, so timing does not say which one matched.
        for candidate in (now - 1)...(now + 1) {
            let matches = ConstantTime.equal(Array(self.code(forStep: candidate).utf8), Array(code.utf8))
            if matches, candidate > (lastUsedStep ?? .min) { accepted = candidate }
        }
        return accepted
    }
}
