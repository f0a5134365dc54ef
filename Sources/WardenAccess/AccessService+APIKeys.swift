public import Foundation
import Synchronization
public import WardenCore
public import WardenSecurity
import WardenStore

extension AccessService {
    /// The longest an API key may be valid: 10 years.
    static let longestKeyLife: TimeInterval = 10 * 365.25 * 86_400

    /// Creates an API key in `tenant` with some of the creator's permissions there (never a platform one nor
    /// `account.self`),
    /// optionally limited to a device group; returns the key and its secret (shown once).
    public func createAPIKey(
        in tenant: TenantID, name: String, permissions: Set<Permission>, deviceGroup: GroupName?, expiresAt: Date?,
        by actor: Principal
    ) async throws(WardenError) -> (APIKey, SecretBytes) {
        guard (1...128).contains(name.count) else {
            throw WardenError(.requestInvalidField, "'name' needs 1 to 128 characters.")
        }
        guard !permissions.isEmpty else {
            throw WardenError(.apiKeyInvalidScope, "An API key needs at least one permission.")
        }
        let held = actor.permissions(in: tenant)
        // A key acts on data, never on an account or the platform.
        let excess = permissions.subtracting(held).union(
            permissions.intersection(Permission.platformOnly.union([.ownAccount])))
        guard excess.isEmpty else {
            throw WardenError(
                .apiKeyInvalidScope,
                "The key cannot carry \(excess.map(\.rawValue).sorted().joined(separator: ", ")).")
        }
        // Bounded above too: a far date (year 10000) would not read back from the store.
        if let expiresAt, expiresAt <= clock.now() || expiresAt > clock.now().addingTimeInterval(Self.longestKeyLife) {
            throw WardenError(.requestInvalidField, "'expiresAt' must be in the future and at most 10 years ahead.")
        }
        // 128 bits from the OS CSPRNG, as the brief asks; the id is separate so lists never show the secret.
        let secret = BearerCredential.generate(prefix: APIKey.prefix, byteCount: 16)
        let key = APIKey(
            id: "key_" + Data(SecretBytes.random(count: 9).bytes).base64URL, tenant: tenant, name: name,
            permissions: permissions, deviceGroup: deviceGroup, expiresAt: expiresAt, createdBy: actor.name,
            createdAt: clock.now(), secretHash: BearerCredential.hash(secret))
        try await writes.runCoded {
            try await self.store.createAPIKey(key)
            self.state.withLock { $0.keys[APIKey.Hash(key.secretHash)] = key }
            self.announce(.principals)
        }
        return (key, secret)
    }

    /// Revokes a key at once.
    public func revokeAPIKey(in tenant: TenantID, id: String) async throws(WardenError) -> APIKey {
        let now = clock.now()
        return try await writes.runCoded {
            let key = try await self.store.revokeAPIKey(tenant, id, at: now)
            self.state.withLock { $0.keys[APIKey.Hash(key.secretHash)] = key }
            self.announce(.principals)
            return key
        }
    }

    /// Makes a new signing key the one that signs; tokens signed by the previous ones keep verifying until
    /// they expire (the newest `keptSigningKeys` are kept).
    public func rotateSigningKey() async throws(WardenError) -> String {
        let key = AccessTokenKey.generate()
        try await writes.runCoded {
            try await self.store.addAccessTokenKey(
                id: key.id, secret: key.secret, createdAt: self.clock.now(), keep: self.settings.keptSigningKeys)
            let keys = try await self.store.accessTokenKeys().map { try AccessTokenKey(id: $0.id, secret: $0.secret) }
            let authority = try await AccessTokenAuthority(keys: keys)
            self.state.withLock { $0.authority = authority }
            self.announce(.principals)
        }
        return key.id
    }
}
