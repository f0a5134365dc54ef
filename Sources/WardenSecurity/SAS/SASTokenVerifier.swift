public import Crypto
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
        _ token: SASToken, resource: String, primary: SymmetricKey, secondary: SymmetricKey, now: UInt64
    ) throws(WardenError) -> MatchedKey {
        guard token.expiry > now else {
            throw WardenError(.sasExpired, "The SAS token expired at \(token.expiry) (now \(now)).")
        }
        guard isSegmentPrefix(token.resource, of: resource) else {
            throw WardenError(.sasResourceMismatch, "The SAS token is not scoped to this resource.")
        }
        let message = Data("\(token.encodedResource)\n\(token.expiry)".utf8)
        if HMAC<SHA256>.isValidAuthenticationCode(token.signature, authenticating: message, using: primary) {
            return .primary
        }
        if HMAC<SHA256>.isValidAuthenticationCode(token.signature, authenticating: message, using: secondary) {
            return .secondary
        }
        throw WardenError(.sasSignatureMismatch, "The SAS token's signature does not match the keys.")
    }

    /// "`/a/b` is a prefix for `/a/b/c` but not for `/a/bc`"; the first segment is a host name.
    static func isSegmentPrefix(_ scope: String, of resource: String) -> Bool {
        let scopeSegments = trimmingOneTrailingSlash(scope).split(separator: "/", omittingEmptySubsequences: false)
        let resourceSegments = resource.split(separator: "/", omittingEmptySubsequences: false)
        guard let scopeHost = scopeSegments.first, let resourceHost = resourceSegments.first,
            scopeSegments.count <= resourceSegments.count,
            scopeHost.lowercased() == resourceHost.lowercased()
        else { return false }
        return zip(scopeSegments.dropFirst(), resourceSegments.dropFirst()).allSatisfy { $0 == $1 }
    }

    private static func trimmingOneTrailingSlash(_ text: String) -> Substring {
        text.hasSuffix("/") ? text.dropLast() : text[...]
    }
}
