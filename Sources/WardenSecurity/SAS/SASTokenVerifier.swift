import Crypto
import Foundation
public import WardenCore

/// Checks a parsed SAS token against the resource being accessed and the candidate keys (anchors.md §1.2).
///
/// Order: expiry, then scope (`sr` must be the resource or a segment prefix of it; the host name compares
/// case-insensitively, the path case-sensitively), then the HMAC over `sr` as transmitted, tried with each key
/// in turn and compared in constant time.
public enum SASTokenVerifier {
    /// Which candidate key signed the token.
    public enum MatchedKey: Sendable, Hashable {
        case primary
        case secondary
    }

    /// Verifies `token` for `resource` (decoded, such as `hub.example/devices/dev-1`) at `now` (Unix seconds).
    ///
    /// - Throws: `sas.expired`, `sas.resource_mismatch` or `sas.signature_mismatch`.
    @discardableResult
    public static func verify(
        _ token: SASToken, resource: String, primary: SASKey, secondary: SASKey, now: UInt64
    ) throws(WardenError) -> MatchedKey {
        guard token.expiry > now else {
            throw WardenError(.sasExpired, "The SAS token expired at \(token.expiry) (now \(now)).")
        }
        guard isSegmentPrefix(token.resource, of: resource) else {
            throw WardenError(.sasResourceMismatch, "The SAS token is not scoped to this resource.")
        }
        // `==` between a MAC and bytes is swift-crypto's constant-time comparison.
        if primary.authenticationCode(encodedResource: token.encodedResource, expiry: token.expiry) == token.signature {
            return .primary
        }
        if secondary.authenticationCode(encodedResource: token.encodedResource, expiry: token.expiry) == token.signature
        {
            return .secondary
        }
        throw WardenError(.sasSignatureMismatch, "The SAS token's signature does not match the keys.")
    }

    /// "`/a/b` is a prefix for `/a/b/c` but not for `/a/bc`"; the first segment, a host name, compares
    /// case-insensitively (ASCII). One trailing `/` on the scope is ignored. Compares bytes, allocates nothing.
    static func isSegmentPrefix(_ scope: String, of resource: String) -> Bool {
        var scopeBytes = scope.utf8[...]
        if scopeBytes.last == UInt8(ascii: "/") { scopeBytes = scopeBytes.dropLast() }
        let resourceBytes = resource.utf8
        guard !scopeBytes.isEmpty, scopeBytes.count <= resourceBytes.count else { return false }
        var inHost = true
        for (left, right) in zip(scopeBytes, resourceBytes) {
            if left == UInt8(ascii: "/") { inHost = false }
            guard inHost ? lowered(left) == lowered(right) : left == right else { return false }
        }
        let next = resourceBytes.dropFirst(scopeBytes.count).first
        return next == nil || next == UInt8(ascii: "/")
    }

    private static func lowered(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
