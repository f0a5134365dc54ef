public import Foundation
public import WardenCore

/// People, service principals, API keys, refresh tokens and access-token signing keys.
public protocol AccessStore: Sendable {
    /// Every user with its roles, for the in-memory view the request path reads.
    func allUsers() async throws -> [User]
    /// Inserts a user; `user.already_exists` if the username is taken.
    func createUser(_ user: User) async throws
    /// Reads, changes and writes one user (roles included) in one transaction; `user.not_found` if absent.
    func updateUser(_ id: String, _ change: @escaping @Sendable (inout User) throws -> Void) async throws -> User
    /// Deletes a user, its roles and its refresh tokens.
    func deleteUser(_ id: String) async throws

    /// Every service principal with its roles.
    func allServicePrincipals() async throws -> [ServicePrincipal]
    func createServicePrincipal(_ principal: ServicePrincipal) async throws
    func updateServicePrincipal(
        _ id: String, _ change: @escaping @Sendable (inout ServicePrincipal) throws -> Void
    ) async throws -> ServicePrincipal
    func deleteServicePrincipal(_ id: String) async throws

    /// Every API key (revoked and expired ones too, for listing).
    func allAPIKeys() async throws -> [APIKey]
    func createAPIKey(_ key: APIKey) async throws
    /// Marks a key revoked; `api_key.not_found` if absent.
    func revokeAPIKey(_ tenant: TenantID, _ id: String, at date: Date) async throws -> APIKey
    /// Records when keys were last used (batched by the caller; a use older than the stored one, which another
    /// node recorded, changes nothing), and returns every key's last use as stored, from whichever node.
    func recordAPIKeyUse(_ uses: [String: Date]) async throws -> [String: Date]

    func insertRefreshToken(_ token: RefreshToken) async throws
    /// Spends the token with `hash` at `date` and inserts its successor (same family and user) atomically;
    /// returns the token as it was before (nil if unknown). When it was already spent or revoked its whole
    /// family is revoked instead; when it has expired nothing changes.
    func exchangeRefreshToken(_ hash: [UInt8], successorHash: [UInt8], successorExpiresAt: Date, at date: Date)
        async throws -> RefreshToken?
    /// The family of the token with `hash`, or nil.
    func refreshTokenFamily(_ hash: [UInt8]) async throws -> String?
    /// Revokes every token of a family (sign-out, reuse).
    func revokeRefreshFamily(_ family: String, at date: Date) async throws
    /// Revokes every token of a user (disable, password change, delete).
    func revokeRefreshTokens(userID: String, at date: Date) async throws
    /// Each family with a token revoked at or after `date`, with its first revocation (a node that missed
    /// another's sign-out learns which sessions' access tokens to refuse).
    func revokedRefreshFamilies(since date: Date) async throws -> [String: Date]

    /// The latest end of a lockout of any of `keys` (a username's, an address's: `SignInThrottle`), if one ends
    /// after `date`.
    func signInLockedUntil(_ keys: [String], after date: Date) async throws -> Date?
    /// Counts a failed sign-in of `key` at `date` (starting again from one after a quiet spell since
    /// `forgiveBefore`) and returns the count: every node sharing the store counts into the same row.
    func countSignInFailure(_ key: String, at date: Date, forgiveBefore: Date) async throws -> Int
    /// Locks `key` until `date`, or leaves a later lockout in place.
    func lockSignIn(_ key: String, until date: Date) async throws
    /// Forgets `key`'s failures (a successful sign-in).
    func forgetSignInFailures(_ key: String) async throws
    /// Removes the keys whose last failure was before `date`, then all but the `keeping` most recently failed;
    /// never a key locked after `now`.
    func pruneSignInFailures(quietSince date: Date, keeping: Int, now: Date) async throws
    /// Deletes tokens that expired before `date`.
    func deleteExpiredRefreshTokens(before date: Date) async throws -> Int

    /// The access-token signing keys, newest first (secrets opened).
    func accessTokenKeys() async throws -> [(id: String, secret: SecretBytes, createdAt: Date)]
    /// Adds a signing key (sealed) and drops all but the newest `keep`.
    func addAccessTokenKey(id: String, secret: SecretBytes, createdAt: Date, keep: Int) async throws
}
