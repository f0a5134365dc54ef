import Crypto
import CryptoExtras
import Foundation
public import WardenCore

/// Hashes people's passwords with scrypt (memory-hard) and a per-user salt, and checks them in constant time.
///
/// The stored form is self-describing, `scrypt$N$r$p$salt$hash` (base64 salt and hash), so the cost can be
/// raised later and old hashes still verify (`needsRehash` says when to upgrade at the next sign-in).
public struct PasswordHasher: Sendable {
    /// scrypt's cost: `rounds` (N, a power of two), `blockSize` (r) and `parallelism` (p).
    /// Memory is 128 · N · r bytes: 32 MiB for the defaults.
    public struct Cost: Sendable, Hashable {
        public var rounds: Int
        public var blockSize: Int
        public var parallelism: Int

        /// N = 2^15, r = 8, p = 1: about 60–90 ms and 32 MiB on this project's 2-core reference machine
        /// (BENCHMARKS.md), the range OWASP suggests for interactive sign-in.
        public static let standard = Cost(rounds: 1 << 15, blockSize: 8, parallelism: 1)

        public init(rounds: Int, blockSize: Int, parallelism: Int) {
            self.rounds = rounds
            self.blockSize = blockSize
            self.parallelism = parallelism
        }
    }

    /// The shortest password accepted.
    public static let minimumLength = 12
    /// The longest password accepted (bounds the work an attacker can ask for).
    public static let maximumLength = 1024

    public let cost: Cost
    private static let saltLength = 16
    private static let hashLength = 32

    public init(cost: Cost = .standard) {
        self.cost = cost
    }

    /// The stored form of a new hash of `password` with a fresh salt.
    public func hash(_ password: SecretBytes) throws(WardenError) -> String {
        let salt = SecretBytes.random(count: Self.saltLength).bytes
        let derived = try Self.derive(password, salt: salt, cost: cost)
        return [
            "scrypt", "\(cost.rounds)", "\(cost.blockSize)", "\(cost.parallelism)",
            Data(salt).base64EncodedString(), Data(derived).base64EncodedString(),
        ].joined(separator: "$")
    }

    /// Whether `password` matches `stored`; a malformed stored form never matches.
    public func verify(_ password: SecretBytes, against stored: String) -> Bool {
        guard let parsed = Self.parse(stored),
            let derived = try? Self.derive(password, salt: parsed.salt, cost: parsed.cost)
        else { return false }
        return ConstantTime.equal(derived, parsed.hash)
    }

    /// Spends the same work as a real check, for a user that does not exist (so timing does not tell).
    public func verifyNothing(_ password: SecretBytes) {
        _ = try? Self.derive(password, salt: [UInt8](repeating: 0, count: Self.saltLength), cost: cost)
    }

    /// Whether `stored` was made with a different cost than this hasher's.
    public func needsRehash(_ stored: String) -> Bool {
        Self.parse(stored)?.cost != cost
    }

    private static func derive(_ password: SecretBytes, salt: [UInt8], cost: Cost) throws(WardenError) -> [UInt8] {
        do {
            let key = try KDF.Scrypt.deriveKey(
                from: password.bytes, salt: salt, outputByteCount: hashLength, rounds: cost.rounds,
                blockSize: cost.blockSize, parallelism: cost.parallelism)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw WardenError(.internalError, "scrypt failed: \(error).")
        }
    }

    private static func parse(_ stored: String) -> (cost: Cost, salt: [UInt8], hash: [UInt8])? {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        // total: parses text: nil unless a number in range, each then bounded.
        guard parts.count == 6, parts[0] == "scrypt",
            let rounds = Int(parts[1]), rounds > 1, rounds <= 1 << 20, rounds & (rounds - 1) == 0,
            let blockSize = Int(parts[2]), (1...32).contains(blockSize),
            let parallelism = Int(parts[3]), (1...16).contains(parallelism),
            let salt = Data(base64Encoded: String(parts[4])), let hash = Data(base64Encoded: String(parts[5])),
            hash.count == hashLength
        else { return nil }
        return (Cost(rounds: rounds, blockSize: blockSize, parallelism: parallelism), Array(salt), Array(hash))
    }
}
