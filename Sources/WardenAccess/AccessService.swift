import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization
public import WardenCore
public import WardenSecurity
public import WardenStore

/// People and services: the one write path for users, service principals, roles and API keys, and the one
/// place a management credential becomes a `Principal`.
///
/// Like the device directory, it keeps what the request path reads in memory (users, services, key hashes,
/// recently verified access tokens) behind one lock, loaded at start-up and changed only after a commit.
public final class AccessService: Service, Sendable {
    struct State {
        var users: [String: User] = [:]
        var userIDs: [String: String] = [:]
        var services: [String: ServicePrincipal] = [:]
        var keys: [APIKey.Hash: APIKey] = [:]
        var keyUses: [String: Date] = [:]
        /// Access tokens already verified, with their claims.
        var verified: [String: AccessTokenClaims] = [:]
        /// Sessions signed out (refresh family → when its last access token expires).
        var revokedSessions: [String: Date] = [:]
        /// Whether a reload for another node's notice waits to start (`apply`).
        var principalsReloadWaits = false
        /// Tokens issued before this instant stop working (password change), per user.
        var notBefore: [String: Date] = [:]
        /// Tenants deleted so far, so that a `reload` can tell whether one went while it read.
        var tenantDeletions: UInt64 = 0
        var authority: AccessTokenAuthority
    }

    let store: any AccessStore
    let settings: Settings
    let hasher: PasswordHasher
    let throttle: SignInThrottle
    let clock: any WardenClock
    let logger: Logger
    let state: Mutex<State>
    let writes = SerialWrites()
    /// The bootstrap credential's hash and the user it belongs to.
    let bootstrap: Mutex<(hash: [UInt8], userID: String)?>
    /// Whether this node deletes expired refresh tokens (one node of a cluster does).
    let duty: PeriodicDuty
    /// Where this node's committed changes are announced, for other nodes' views to follow (set by `follow`).
    private let announcements = Mutex<EventBus?>(nil)

    /// Loads users, services, keys and the signing keys (making the first one on a new data directory).
    public init(
        store: any AccessStore, settings: Settings, clock: any WardenClock, logger: Logger,
        duty: PeriodicDuty = PeriodicDuty()
    ) async throws {
        self.duty = duty
        self.store = store
        self.settings = settings
        self.hasher = PasswordHasher(cost: settings.passwordCost)
        self.throttle = SignInThrottle(settings: settings.throttle, store: store)
        self.clock = clock
        self.logger = logger
        if try await store.accessTokenKeys().isEmpty {
            let key = AccessTokenKey.generate()
            try await store.addAccessTokenKey(
                id: key.id, secret: key.secret, createdAt: clock.now(), keep: settings.keptSigningKeys)
        }
        let loaded = try await Self.load(from: store, now: clock.now(), settings: settings)
        var state = State(authority: loaded.authority)
        loaded.apply(to: &state)
        self.state = Mutex(state)
        self.bootstrap = Mutex(nil)
    }

    /// What the store holds of people and services.
    private struct Loaded {
        var users: [String: User] = [:]
        var userIDs: [String: String] = [:]
        var services: [String: ServicePrincipal] = [:]
        var keys: [APIKey.Hash: APIKey] = [:]
        /// Sessions signed out (or revoked) whose access tokens may still be unexpired.
        var revokedSessions: [String: Date] = [:]
        let authority: AccessTokenAuthority

        func apply(to state: inout State) {
            state.revokedSessions.merge(revokedSessions) { max($0, $1) }
            state.users = users
            state.userIDs = userIDs
            state.services = services
            // A use seen here and not flushed yet is newer than the store's.
            var merged = keys
            for (hash, key) in state.keys {
                guard let used = key.lastUsedAt, let stored = merged[hash] else { continue }
                merged[hash]?.lastUsedAt = max(used, stored.lastUsedAt ?? used)
            }
            state.keys = merged
            state.authority = authority
        }
    }

    /// Users, services, API keys, signing keys and recently revoked sessions as the store has them.
    private static func load(from store: any AccessStore, now: Date, settings: Settings) async throws -> Loaded {
        var loaded = Loaded(
            authority: try await AccessTokenAuthority(
                keys: try store.accessTokenKeys().map { try AccessTokenKey(id: $0.id, secret: $0.secret) }))
        for user in try await store.allUsers() {
            loaded.users[user.id] = user
            loaded.userIDs[user.username.rawValue] = user.id
        }
        for service in try await store.allServicePrincipals() { loaded.services[service.id] = service }
        for key in try await store.allAPIKeys() { loaded.keys[APIKey.Hash(key.secretHash)] = key }
        let lifetime = settings.accessTokenLifetime
        for (family, revokedAt) in try await store.revokedRefreshFamilies(since: now.addingTimeInterval(-lifetime)) {
            loaded.revokedSessions[family] = revokedAt.addingTimeInterval(lifetime)
        }
        return loaded
    }

    /// Reads users, services, API keys, signing keys and revoked sessions again (another node changed them, or this one may have
    /// missed such a change), in turn with this node's own changes.
    /// A tenant deleted while it read may still be in what it read: then it reads again (the third read is taken
    /// as it is).
    public func reload() async throws {
        try await writes.run { try await self.readAgain() }
    }

    /// Reads people, services and keys from the store (inside `writes`).
    private func readAgain() async throws {
        for attempt in 1...3 {
            let seen = state.withLock { $0.tenantDeletions }
            let loaded = try await Self.load(from: store, now: clock.now(), settings: settings)
            let isTaken = state.withLock { state in
                guard state.tenantDeletions == seen || attempt == 3 else { return false }
                loaded.apply(to: &state)
                return true
            }
            if isTaken { return }
        }
    }

    /// Tells other nodes about a committed change (nothing when the node runs alone).
    func announce(_ change: AccessChange) {
        announcements.withLock { $0 }?.publish(.accessChanged(change))
    }

    /// Flushes API keys' last use once a minute and deletes expired refresh tokens once an hour.
    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var minutes = 0
            while true {
                try await Task.sleep(for: .seconds(60))
                await self.flushKeyUses()
                minutes += 1
                if minutes % 60 == 0, self.duty.isThisNode {
                    _ = try? await self.store.deleteExpiredRefreshTokens(before: self.clock.now())
                }
            }
        }
        await flushKeyUses()
    }

    /// Writes this node's key uses since the last flush, and takes the other nodes' from the store (a key used
    /// only through another node shows its use here within two flushes).
    func flushKeyUses() async {
        let uses = state.withLock { state in
            defer { state.keyUses = [:] }
            return state.keyUses
        }
        do {
            let stored = try await store.recordAPIKeyUse(uses)
            state.withLock { state in
                for (hash, key) in state.keys {
                    guard let used = stored[key.id], used > (key.lastUsedAt ?? .distantPast) else { continue }
                    state.keys[hash]?.lastUsedAt = used
                }
            }
        } catch {
            logger.warning("Cannot record API key use.", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Credentials to principals

    /// The principal a bearer credential belongs to right now, or nil: an access token (JWT), an API key
    /// (`wak_…`) or the bootstrap credential (`wdn_…`). A disabled user, a revoked key or a signed-out
    /// session stops at once; roles are read now, not from the token.
    public func principal(forBearer credential: Substring) async -> Principal? {
        let now = clock.now()
        if credential.hasPrefix(APIKey.prefix) { return apiKeyPrincipal(credential, now: now) }
        if credential.hasPrefix("wdn_") { return bootstrapPrincipal(credential) }
        let token = String(credential)
        var claims = state.withLock { $0.verified[token] }
        if claims == nil {
            let authority = state.withLock { $0.authority }
            guard let verified = try? await authority.verify(token, now: now) else { return nil }
            claims = verified
            state.withLock { state in
                if state.verified.count >= settings.tokenCacheCapacity {
                    state.verified = state.verified.filter { $0.value.expiresAt > now }
                    if state.verified.count >= settings.tokenCacheCapacity { state.verified = [:] }
                }
                state.verified[token] = verified
            }
        }
        guard let claims, claims.expiresAt > now else { return nil }
        return state.withLock { state -> Principal? in
            if let session = claims.session, state.revokedSessions[session] != nil { return nil }
            if let notBefore = state.notBefore[claims.subject], claims.issuedAt < notBefore { return nil }
            switch claims.kind {
            case "user":
                guard let user = state.users[claims.subject], user.isEnabled else { return nil }
                return user.principal
            case "service":
                guard let service = state.services[claims.subject], service.isEnabled else { return nil }
                return service.principal
            default:
                return nil
            }
        }
    }

    private func apiKeyPrincipal(_ credential: Substring, now: Date) -> Principal? {
        let hash = APIKey.Hash(BearerCredential.hash(presented: credential))
        return state.withLock { state in
            guard let key = state.keys[hash], key.isUsable(at: now) else { return nil }
            state.keyUses[key.id] = now
            state.keys[hash]?.lastUsedAt = now
            return key.principal
        }
    }

    private func bootstrapPrincipal(_ credential: Substring) -> Principal? {
        guard let bootstrap = bootstrap.withLock({ $0 }),
            BearerCredential.matches(credential, storedHash: bootstrap.hash)
        else { return nil }
        return state.withLock { state in
            guard let user = state.users[bootstrap.userID], user.isEnabled else { return nil }
            // The credential is 256 random bits of its own: the generated password's rule does not apply.
            return Principal(
                kind: .user, id: user.id, name: user.username.rawValue, isPlatformAdmin: user.isPlatformAdmin,
                roles: user.roles)
        }
    }

    // MARK: Reading

    /// The user named `username`.
    public func user(named username: String) -> User? {
        state.withLock { state in state.userIDs[username].flatMap { state.users[$0] } }
    }

    /// The user with `id`.
    public func user(id: String) -> User? {
        state.withLock { $0.users[id] }
    }

    /// Every user, by username.
    public func users() -> [User] {
        state.withLock { Array($0.users.values) }.sorted { $0.username.rawValue < $1.username.rawValue }
    }

    /// Every service principal, by name.
    public func servicePrincipals() -> [ServicePrincipal] {
        state.withLock { Array($0.services.values) }.sorted { ($0.name, $0.id) < ($1.name, $1.id) }
    }

    /// The service principal with `id`.
    public func servicePrincipal(id: String) -> ServicePrincipal? {
        state.withLock { $0.services[id] }
    }

    /// A tenant's API keys, newest first.
    public func apiKeys(in tenant: TenantID) -> [APIKey] {
        state.withLock { $0.keys.values.filter { $0.tenant == tenant } }.sorted { $0.createdAt > $1.createdAt }
    }

    /// Forgets roles and keys of a deleted tenant (the store cascaded already).
    public func tenantDeleted(_ tenant: TenantID) {
        state.withLock { state in
            state.tenantDeletions &+= 1
            for id in state.users.keys { state.users[id]?.roles[tenant] = nil }
            for id in state.services.keys { state.services[id]?.roles[tenant] = nil }
            state.keys = state.keys.filter { $0.value.tenant != tenant }
        }
    }

    /// Follows a deleted tenant and other nodes' access changes on `bus`, and announces this node's there.
    public func follow(_ bus: EventBus) {
        announcements.withLock { $0 = bus }
        _ = bus.observeWithOrigin { [weak self] event, origin in
            guard let self else { return }
            switch event {
            case .tenantDeleted(let tenant): tenantDeleted(tenant)
            case .accessChanged(let change) where origin == .otherNode: apply(change)
            default: break
            }
        }
    }

    /// Another node's change. Notices come over the cluster's bus, so each is taken within what a real one can
    /// say: one reload waits at most (notices that come meanwhile are read by it), a session is revoked no longer
    /// than an access token lives, and a user's tokens are never cut off from more than a minute ahead.
    private func apply(_ change: AccessChange) {
        let now = clock.now()
        switch change {
        case .principals:
            let isWaiting = state.withLock { state in
                defer { state.principalsReloadWaits = true }
                return state.principalsReloadWaits
            }
            guard !isWaiting else { return }
            Task {
                do {
                    try await writes.run {
                        self.state.withLock { $0.principalsReloadWaits = false }
                        try await self.readAgain()
                    }
                } catch {
                    logger.error(
                        "Cannot read people and services again after another node changed them.",
                        metadata: ["error": "\(error)"])
                }
            }
        case .signedOut(let session, let until):
            guard session.utf8.count <= Self.maximumIDBytes else { return }
            let until = min(until, now.addingTimeInterval(settings.accessTokenLifetime))
            state.withLock { state in
                state.revokedSessions = state.revokedSessions.filter { $0.value > now }
                state.revokedSessions[session] = until
            }
        case .tokensRevoked(let userID, let before):
            guard userID.utf8.count <= Self.maximumIDBytes else { return }
            // Clocks of nodes differ a little; a cut-off further ahead would lock the user out.
            let before = min(before, now.addingTimeInterval(60))
            let expired = now.addingTimeInterval(-settings.accessTokenLifetime)
            state.withLock { state in
                // A cut-off older than any unexpired token's issue stops nothing.
                state.notBefore = state.notBefore.filter { $0.value > expired }
                state.notBefore[userID] = max(state.notBefore[userID] ?? before, before)
            }
        }
    }

    /// The longest session or user id another node's notice may name (this node's are 22 and 26 characters).
    static let maximumIDBytes = 128
}

extension APIKey {
    /// The prefix of every API key secret.
    public static let prefix = "wak_"

    /// A stored secret hash as a dictionary key.
    struct Hash: Hashable, Sendable {
        let bytes: [UInt8]
        init(_ bytes: [UInt8]) { self.bytes = bytes }
    }
}
