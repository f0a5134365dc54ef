public import Foundation
public import WardenSecurity

extension AccessService {
    /// Lifetimes and limits (`auth.*` in docs/configuration.md).
    public struct Settings: Sendable {
        /// How long an access token is valid (`auth.access-token-lifetime`, 15 minutes).
        public var accessTokenLifetime: TimeInterval = 900
        /// How long a refresh token is valid (`auth.refresh-token-lifetime`, 30 days).
        public var refreshTokenLifetime: TimeInterval = 30 * 86_400
        /// Verified access tokens remembered so that a repeat costs a lookup, not an ES256 verification.
        public var tokenCacheCapacity = 10_000
        /// Signing keys kept after a rotation (tokens signed by an older one stop verifying).
        public var keptSigningKeys = 3
        public var throttle = SignInThrottle.Settings()
        public var passwordCost = PasswordHasher.Cost.standard

        public init() {}
    }
}
