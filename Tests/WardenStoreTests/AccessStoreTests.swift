import Foundation
import Testing
import WardenCore
import WardenStore

/// People, service principals, API keys, refresh tokens and signing keys (`AccessStore`), against each engine.
struct AccessStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    private func makeTenant(_ store: any PortedStores) async throws {
        _ = try await store.createTenant(Tenant(id: .defaultTenant, hostName: .localhost, createdAt: now), etag: "t")
    }

    private func user(_ id: String, _ name: String, roles: [TenantID: Role] = [:]) throws -> User {
        User(id: id, username: try Username(name), passwordHash: "scrypt-hash-of-\(name)", roles: roles, createdAt: now)
    }

    private func hash(_ byte: UInt8) -> [UInt8] { Array(repeating: byte, count: 32) }

    private func token(_ byte: UInt8, family: String = "f1", user: String = "usr_ada", expiresAt: Date? = nil)
        -> RefreshToken
    {
        RefreshToken(
            hash: hash(byte), family: family, userID: user, issuedAt: now - 3_600,
            expiresAt: expiresAt ?? now + 3_600)
    }

    @Test(arguments: StoreEngine.allCases) func usersKeepRolesAndSecretsThroughAReopen(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            try await makeTenant(fresh.store)
            let totp = SecretBytes.random(count: 20)
            let pending = SecretBytes.random(count: 20)
            var ada = try user("usr_ada", "ada", roles: [.defaultTenant: .admin])
            ada.isPlatformAdmin = true
            ada.totpSecret = totp
            ada.pendingTOTPSecret = pending
            ada.lastTOTPStep = 59_999_999
            ada.mustChangePassword = true
            try await fresh.store.createUser(ada)
            try await fresh.store.createUser(try user("usr_bob", "bob"))

            let reopened = try await fresh.reopen()
            let users = try await reopened.allUsers()
            #expect(users.map(\.username.rawValue) == ["ada", "bob"])
            let loaded = try #require(users.first)
            #expect(loaded.id == "usr_ada" && loaded.passwordHash == ada.passwordHash && loaded.createdAt == now)
            #expect(loaded.isEnabled && loaded.isPlatformAdmin && loaded.mustChangePassword)
            #expect(loaded.roles == [.defaultTenant: .admin])
            #expect(loaded.totpSecret?.bytes == totp.bytes)
            #expect(loaded.pendingTOTPSecret?.bytes == pending.bytes)
            #expect(loaded.lastTOTPStep == 59_999_999)
            #expect(users.last?.roles.isEmpty == true && users.last?.totpSecret == nil)

            let updated = try await reopened.updateUser("usr_ada") { user in
                user.pendingTOTPSecret = nil
                user.roles = [.defaultTenant: .monitor]
                user.isEnabled = false
            }
            #expect(updated.pendingTOTPSecret == nil && updated.totpSecret?.bytes == totp.bytes)
            let again = try #require(try await fresh.store.allUsers().first)
            #expect(again.pendingTOTPSecret == nil && again.totpSecret?.bytes == totp.bytes)
            #expect(again.roles == [.defaultTenant: .monitor] && !again.isEnabled)
        }
    }

    @Test(arguments: StoreEngine.allCases) func usernamesAreUnique(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            try await makeTenant(fresh.store)
            try await fresh.store.createUser(try user("usr_ada", "ada"))
            await #expect(throws: WardenError(.userAlreadyExists, "")) {
                try await fresh.store.createUser(try user("usr_other", "ada"))
            }
            try await fresh.store.createUser(try user("usr_bob", "bob"))
            await #expect(throws: WardenError(.userAlreadyExists, "")) {
                _ = try await fresh.store.updateUser("usr_bob") { $0.username = try Username("ada") }
            }
            // Keeping one's own name is no clash.
            _ = try await fresh.store.updateUser("usr_bob") { $0.passwordHash = "changed" }
            await #expect(throws: WardenError(.userNotFound, "")) {
                _ = try await fresh.store.updateUser("usr_nobody") { _ in }
            }
            // A role in an unknown tenant refuses the whole user.
            await #expect(throws: WardenError(.tenantNotFound, "")) {
                try await fresh.store.createUser(try user("usr_eve", "eve", roles: [try TenantID("nowhere"): .owner]))
            }
            let users = try await fresh.store.allUsers()
            #expect(users.map(\.username.rawValue) == ["ada", "bob"])
            #expect(users.last?.passwordHash == "changed")
        }
    }

    @Test(arguments: StoreEngine.allCases) func deletingAUserTakesItsRefreshTokens(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            try await makeTenant(fresh.store)
            try await fresh.store.createUser(try user("usr_ada", "ada", roles: [.defaultTenant: .owner]))
            try await fresh.store.insertRefreshToken(token(1))
            try await fresh.store.insertRefreshToken(token(2, family: "f2", user: "usr_bob"))
            try await fresh.store.deleteUser("usr_ada")
            #expect(try await fresh.store.allUsers().isEmpty)
            #expect(try await fresh.store.refreshTokenFamily(hash(1)) == nil)
            #expect(try await fresh.store.refreshTokenFamily(hash(2)) == "f2")
            await #expect(throws: WardenError(.userNotFound, "")) { try await fresh.store.deleteUser("usr_ada") }
        }
    }

    @Test(arguments: StoreEngine.allCases) func servicePrincipalsKeepTheirRoles(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            try await makeTenant(fresh.store)
            try await fresh.store.createServicePrincipal(
                ServicePrincipal(
                    id: "sp_b", name: "billing", secretHash: hash(7), roles: [.defaultTenant: .operator],
                    createdAt: now))
            try await fresh.store.createServicePrincipal(
                ServicePrincipal(id: "sp_a", name: "alerts", secretHash: hash(8), roles: [:], createdAt: now))

            let reopened = try await fresh.reopen()
            let principals = try await reopened.allServicePrincipals()
            #expect(principals.map(\.name) == ["alerts", "billing"])
            let billing = try #require(principals.last)
            #expect(billing.id == "sp_b" && billing.secretHash == hash(7) && billing.isEnabled)
            #expect(billing.roles == [.defaultTenant: .operator] && billing.createdAt == now)

            let changed = try await reopened.updateServicePrincipal("sp_b") { principal in
                principal.isEnabled = false
                principal.roles = [.defaultTenant: .monitor]
            }
            #expect(!changed.isEnabled)
            let loaded = try #require(try await fresh.store.allServicePrincipals().last)
            #expect(!loaded.isEnabled && loaded.roles == [.defaultTenant: .monitor])

            try await fresh.store.deleteServicePrincipal("sp_b")
            #expect(try await fresh.store.allServicePrincipals().map(\.id) == ["sp_a"])
            await #expect(throws: WardenError(.servicePrincipalNotFound, "")) {
                try await fresh.store.deleteServicePrincipal("sp_b")
            }
            await #expect(throws: WardenError(.servicePrincipalNotFound, "")) {
                _ = try await fresh.store.updateServicePrincipal("sp_b") { _ in }
            }
        }
    }

    @Test(arguments: StoreEngine.allCases) func apiKeysAreRevokedOnceAndRecordTheirUse(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            try await makeTenant(fresh.store)
            let dashboard = APIKey(
                id: "key_1", tenant: .defaultTenant, name: "dashboard", permissions: [.telemetryRead, .registryRead],
                deviceGroup: try GroupName("line-1"), expiresAt: now + 86_400, createdBy: "usr_ada", createdAt: now,
                secretHash: hash(1))
            let script = APIKey(
                id: "key_2", tenant: .defaultTenant, name: "script", permissions: [.registryRead], deviceGroup: nil,
                expiresAt: nil, createdBy: "sp_a", createdAt: now + 1, secretHash: hash(2))
            try await fresh.store.createAPIKey(dashboard)
            try await fresh.store.createAPIKey(script)
            await #expect(throws: WardenError(.tenantNotFound, "")) {
                try await fresh.store.createAPIKey(
                    APIKey(
                        id: "key_3", tenant: try TenantID("nowhere"), name: "x", permissions: [], deviceGroup: nil,
                        expiresAt: nil, createdBy: "usr_ada", createdAt: now, secretHash: hash(3)))
            }

            let reopened = try await fresh.reopen()
            #expect(try await reopened.allAPIKeys() == [dashboard, script])
            #expect(try await reopened.revokeAPIKey(.defaultTenant, "key_1", at: now + 60).revokedAt == now + 60)
            // Revoking again keeps the first date.
            #expect(try await reopened.revokeAPIKey(.defaultTenant, "key_1", at: now + 120).revokedAt == now + 60)
            await #expect(throws: WardenError(.apiKeyNotFound, "")) {
                _ = try await reopened.revokeAPIKey(.defaultTenant, "key_9", at: now)
            }
            #expect(
                try await reopened.recordAPIKeyUse(["key_1": now + 30, "key_2": now + 90, "key_9": now])
                    == ["key_1": now + 30, "key_2": now + 90])
            // Another node's older use changes nothing; every key's last use comes back, also with nothing to write.
            #expect(try await reopened.recordAPIKeyUse(["key_2": now + 10]) == ["key_1": now + 30, "key_2": now + 90])
            #expect(try await reopened.recordAPIKeyUse([:]) == ["key_1": now + 30, "key_2": now + 90])
            let keys = try await fresh.store.allAPIKeys()
            #expect(keys.map(\.lastUsedAt) == [now + 30, now + 90])
            #expect(keys.map(\.revokedAt) == [now + 60, nil])
        }
    }

    @Test(arguments: StoreEngine.allCases) func aSpentRefreshTokenUsedAgainRevokesItsFamily(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            let first = token(1)
            try await store.insertRefreshToken(first)
            try await store.insertRefreshToken(token(5, family: "f2"))
            #expect(
                try await store.exchangeRefreshToken(
                    hash(9), successorHash: hash(10), successorExpiresAt: now + 7_200, at: now) == nil)

            // The token as it was before, and its successor in the same family.
            #expect(
                try await store.exchangeRefreshToken(
                    hash(1), successorHash: hash(2), successorExpiresAt: now + 7_200, at: now + 60) == first)
            #expect(try await store.refreshTokenFamily(hash(2)) == "f1")

            // Presented again: no successor, and the whole family (the successor too) is revoked.
            let reused = try #require(
                try await store.exchangeRefreshToken(
                    hash(1), successorHash: hash(3), successorExpiresAt: now + 7_200, at: now + 120))
            #expect(reused.usedAt == now + 60 && reused.revokedAt == nil)
            #expect(try await store.refreshTokenFamily(hash(3)) == nil)
            let successor = try #require(
                try await store.exchangeRefreshToken(
                    hash(2), successorHash: hash(4), successorExpiresAt: now + 7_200, at: now + 180))
            #expect(
                successor
                    == RefreshToken(
                        hash: hash(2), family: "f1", userID: "usr_ada", issuedAt: now + 60, expiresAt: now + 7_200,
                        revokedAt: now + 120))
            #expect(try await store.refreshTokenFamily(hash(4)) == nil)

            // Another sign-in's family is untouched.
            let other = try #require(
                try await store.exchangeRefreshToken(
                    hash(5), successorHash: hash(6), successorExpiresAt: now + 7_200, at: now + 240))
            #expect(other.usedAt == nil && other.revokedAt == nil)
            #expect(try await fresh.reopen().refreshTokenFamily(hash(6)) == "f2")
        }
    }

    @Test(arguments: StoreEngine.allCases) func anExpiredRefreshTokenChangesNothing(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            let expiring = token(1, expiresAt: now)
            try await store.insertRefreshToken(expiring)
            #expect(
                try await store.exchangeRefreshToken(
                    hash(1), successorHash: hash(2), successorExpiresAt: now + 7_200, at: now + 1) == expiring)
            #expect(try await store.refreshTokenFamily(hash(2)) == nil)
            // Still unspent: before its expiry it exchanges as usual.
            #expect(
                try await store.exchangeRefreshToken(
                    hash(1), successorHash: hash(2), successorExpiresAt: now + 7_200, at: now - 1) == expiring)
            #expect(try await store.refreshTokenFamily(hash(2)) == "f1")
        }
    }

    @Test(arguments: StoreEngine.allCases) func refreshTokensAreRevokedByFamilyOrUserAndPurged(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            try await store.insertRefreshToken(token(1, family: "f1"))
            try await store.insertRefreshToken(token(2, family: "f2"))
            try await store.insertRefreshToken(token(3, family: "f3", user: "usr_bob", expiresAt: now + 10))
            try await store.insertRefreshToken(token(4, family: "f4", user: "usr_bob"))
            try await store.revokeRefreshFamily("f1", at: now)
            try await store.revokeRefreshTokens(userID: "usr_ada", at: now + 5)
            #expect(try await store.revokedRefreshFamilies(since: now) == ["f1": now, "f2": now + 5])
            #expect(try await store.revokedRefreshFamilies(since: now + 1) == ["f2": now + 5])
            #expect(try await store.deleteExpiredRefreshTokens(before: now + 60) == 1)
            #expect(try await store.refreshTokenFamily(hash(3)) == nil)

            let exchange = { (byte: UInt8) in
                try await store.exchangeRefreshToken(
                    hash(byte), successorHash: hash(byte + 100), successorExpiresAt: now + 7_200, at: now + 120)
            }
            // The family's revocation came first and stays.
            #expect(try await exchange(1)?.revokedAt == now)
            #expect(try await exchange(2)?.revokedAt == now + 5)
            let bobs = try #require(try await exchange(4))
            #expect(bobs.revokedAt == nil && bobs.usedAt == nil)
            #expect(try await store.refreshTokenFamily(hash(104)) == "f4")
        }
    }

    @Test(arguments: StoreEngine.allCases) func signingKeysKeepTheNewest(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let secrets = (0..<4).map { _ in SecretBytes.random(count: 32) }
            for (index, secret) in secrets.enumerated() {
                try await fresh.store.addAccessTokenKey(
                    id: "k\(index)", secret: secret, createdAt: now + Double(index), keep: 3)
            }
            let keys = try await fresh.reopen().accessTokenKeys()
            #expect(keys.map { $0.id } == ["k3", "k2", "k1"])
            #expect(keys.map { $0.secret.bytes } == [secrets[3].bytes, secrets[2].bytes, secrets[1].bytes])
            #expect(keys.map { $0.createdAt } == [now + 3, now + 2, now + 1])
        }
    }

    /// Failed sign-ins: every writer counts into one row (from one again after a quiet spell), a lockout only
    /// grows, a success forgets the username, and keys quiet for long or beyond the kept number are removed.
    @Test(arguments: StoreEngine.allCases) func signInFailuresAreCountedLockedAndPruned(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            for expected in 1...3 {
                #expect(try await store.countSignInFailure("u:ada", at: now, forgiveBefore: now - 900) == expected)
            }
            #expect(try await store.countSignInFailure("u:ada", at: now + 1_000, forgiveBefore: now + 100) == 1)
            #expect(try await store.signInLockedUntil(["u:ada", "a:192.0.2.1"], after: now) == nil)
            try await store.lockSignIn("u:ada", until: now + 1_060)
            try await store.lockSignIn("u:ada", until: now + 1_030)
            _ = try await store.countSignInFailure("a:192.0.2.1", at: now + 1_000, forgiveBefore: now)
            try await store.lockSignIn("a:192.0.2.1", until: now + 1_120)
            #expect(try await store.signInLockedUntil(["u:ada", "a:192.0.2.1"], after: now + 1_000) == now + 1_120)
            #expect(try await store.signInLockedUntil(["u:ada"], after: now + 1_000) == now + 1_060)
            #expect(try await store.signInLockedUntil(["u:ada"], after: now + 1_060) == nil)
            try await store.forgetSignInFailures("u:ada")
            #expect(try await store.signInLockedUntil(["u:ada"], after: now) == nil)
            #expect(try await store.countSignInFailure("u:ada", at: now + 1_001, forgiveBefore: now) == 1)
            for index in 0..<4 {
                _ = try await store.countSignInFailure(
                    "u:guess\(index)", at: now + 2_000 + Double(index), forgiveBefore: now)
            }
            _ = try await store.countSignInFailure("u:locked", at: now + 1_000, forgiveBefore: now)
            try await store.lockSignIn("u:locked", until: now + 5_000)
            // Quiet since before 1,500 s: ada and the address go; of the rest the two most recent stay, and a key
            // locked now stays whatever else.
            try await store.pruneSignInFailures(quietSince: now + 1_500, keeping: 2, now: now + 2_100)
            #expect(try await store.countSignInFailure("u:locked", at: now + 2_100, forgiveBefore: now) == 2)
            #expect(try await store.countSignInFailure("u:ada", at: now + 2_100, forgiveBefore: now) == 1)
            #expect(try await store.countSignInFailure("u:guess3", at: now + 2_100, forgiveBefore: now) == 2)
            #expect(try await store.countSignInFailure("u:guess0", at: now + 2_100, forgiveBefore: now) == 1)
        }
    }
}
