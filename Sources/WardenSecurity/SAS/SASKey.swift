public import Crypto
import Foundation
public import WardenCore

/// A key SAS tokens are signed with, held as the two SHA-256 states of HMAC (RFC 2104) that have already
/// absorbed the key's inner and outer pads.
///
/// Keying HMAC costs two SHA-256 blocks; a device's keys change rarely but are checked on every connect, so the
/// directory keys them once and each verification only copies the states (`BENCHMARKS.md`). The result is
/// byte-for-byte `HMAC<SHA256>` (a test compares them) and is compared as a swift-crypto digest, in constant time.
public struct SASKey: Sendable {
    private static let blockSize = 64
    private let inner: SHA256
    private let outer: SHA256

    /// Keys HMAC-SHA256 with `key`.
    public init(_ key: SymmetricKey) {
        var block = [UInt8](repeating: 0, count: Self.blockSize)
        key.withUnsafeBytes { bytes in
            if bytes.count > Self.blockSize {
                block.replaceSubrange(0..<SHA256.byteCount, with: Array(SHA256.hash(data: bytes)))
            } else {
                block.replaceSubrange(0..<bytes.count, with: bytes)
            }
        }
        var inner = SHA256()
        inner.update(data: block.map { $0 ^ 0x36 })
        var outer = SHA256()
        outer.update(data: block.map { $0 ^ 0x5C })
        for index in block.indices { block[index] = 0 }
        self.inner = inner
        self.outer = outer
    }

    /// Keys HMAC-SHA256 with the bytes of `secret` (a device's or policy's base64-decoded key).
    public init(_ secret: SecretBytes) {
        self.init(SymmetricKey(data: secret.bytes))
    }

    /// HMAC-SHA256 over the string-to-sign `encodedResource + "\n" + expiry`.
    func authenticationCode(encodedResource: String, expiry: UInt64) -> SHA256Digest {
        var inner = self.inner
        var resource = encodedResource
        resource.withUTF8 { inner.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 21) { digits in
            var index = digits.count
            var value = expiry
            repeat {
                index -= 1
                // total: one decimal digit, 0...9.
                digits[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            } while value > 0
            index -= 1
            digits[index] = UInt8(ascii: "\n")
            inner.update(bufferPointer: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: digits[index...])))
        }
        var outer = self.outer
        inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
        return outer.finalize()
    }
}

extension SASKeyPair {
    /// The keys DPS derives for one device of a symmetric-key enrollment group: HMAC-SHA256 of the
    /// registration id (UTF-8) under each group key (protocols.md §1.3).
    public func derived(for registrationID: String) -> SASKeyPair {
        func derive(_ key: SecretBytes) -> SecretBytes {
            SecretBytes(
                Array(
                    HMAC<SHA256>.authenticationCode(
                        for: Array(registrationID.utf8), using: SymmetricKey(data: key.bytes))))
        }
        return SASKeyPair(primary: derive(primary), secondary: derive(secondary))
    }
}
