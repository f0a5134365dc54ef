import Foundation
import Logging
import Synchronization
import Testing
import WardenCore
import WardenSecurity
import WardenStore

@testable import WardenAccess

/// A clock the test moves.
final class TestClock: WardenClock, Sendable {
    private let instant = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    func now() -> Date { instant.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { instant.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// The access service on a real SQLite file, with a bootstrap administrator and tenants `default` and `other`.
struct AccessFixture {
    let clock = TestClock()
    let database: SQLiteDatabase
    let access: AccessService
    let admin: Principal
    static let address = IPAddress("192.0.2.10") ?? .unspecified
    static let password = "a long enough password"

    init() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("warden-access-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        database = try SQLiteDatabase(
            path: folder.appendingPathComponent("warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()),
            clock: clock)
        for id in ["default", "other"] {
            _ = try await database.createTenant(
                Tenant(id: try TenantID(id), hostName: try HostName("\(id).example"), createdAt: clock.now()), etag: "1"
            )
        }
        var settings = AccessService.Settings()
        settings.passwordCost = .init(rounds: 1 << 4, blockSize: 8, parallelism: 1)
        access = try await AccessService(
            store: database, settings: settings, clock: clock, logger: Logger(label: "test"))
        _ = try await access.ensureBootstrapAdmin(
            username: "admin", credentialHash: BearerCredential.hash(.random(count: 8)))
        admin = try #require(access.user(named: "admin")).principal
    }

    @discardableResult
    func user(_ name: String, _ roles: [String: Role], platformAdmin: Bool = false) async throws -> User {
        var byTenant: [TenantID: Role] = [:]
        for (tenant, role) in roles { byTenant[try TenantID(tenant)] = role }
        return try await access.createUser(
            username: name, password: SecretBytes(Array(Self.password.utf8)), isPlatformAdmin: platformAdmin,
            roles: byTenant, by: admin
        ).user
    }

    func signIn(
        _ name: String, _ password: String = AccessFixture.password, totp: String? = nil,
        from address: IPAddress = AccessFixture.address
    ) async throws -> TokenGrant {
        try await access.signIn(
            username: name, password: SecretBytes(Array(password.utf8)), totp: totp, from: address)
    }

    func principal(_ token: String) async -> Principal? {
        await access.principal(forBearer: Substring(token))
    }
}

struct SignInTests {
    @Test func aUserSignsInAndItsTokenNamesItWithCurrentRoles() async throws {
        let fixture = try await AccessFixture()
        try await fixture.user("ada", ["default": .operator])
        let grant = try await fixture.signIn("ada")
        #expect(grant.expiresIn == 900 && grant.refreshToken?.hasPrefix("wrt_") == true)
        let principal = try #require(await fixture.principal(grant.accessToken))
        #expect(principal.name == "ada" && principal.roles == [.defaultTenant: .operator])
        _ = try await fixture.access.setRole(.monitor, for: "ada", in: .defaultTenant, by: fixture.admin)
        #expect(await fixture.principal(grant.accessToken)?.roles == [.defaultTenant: .monitor])
        fixture.clock.advance(901)
        #expect(await fixture.principal(grant.accessToken) == nil)
    }

    @Test func wrongPasswordsAndUnknownUsersLookTheSame() async throws {
        let fixture = try await AccessFixture()
        try await fixture.user("ada", ["default": .monitor])
        await #expect(throws: WardenError(.authSignInFailed, "")) {
            try await fixture.signIn("ada", "not the password")
        }
        await #expect(throws: WardenError(.authSignInFailed, "")) { try await fixture.signIn("nobody") }
    }

    @Test func repeatedFailuresLockTheUserOutUntilTheLockoutEnds() async throws {
        let fixture = try await AccessFixture()
        try await fixture.user("ada", ["default": .monitor])
        for _ in 1...5 { _ = try? await fixture.signIn("ada", "wrong password!") }
        do {
            _ = try await fixture.signIn("ada")
            Issue.record("signed in while locked out")
        } catch let error as WardenError {
            #expect(error.code == .authLockedOut && error.retryAfter == 60)
        }
        fixture.clock.advance(61)
        #expect(try await fixture.signIn("ada").accessToken.isEmpty == false)
    }

    /// Names longer than any account's are counted by their first 128 bytes: the throttle's keys in the store
    /// stay small whatever a form sends, and such names are locked out together.
    @Test func namesLongerThanAnyAccountsAreCountedByTheirStart() async throws {
        let fixture = try await AccessFixture()
        let start = String(repeating: "n", count: 200)
        for tail in ["a", "a", "b", "c", "d"] { _ = try? await fixture.signIn(start + tail, "wrong password!") }
        do {
            _ = try await fixture.signIn(start + "e", "wrong password!")
            Issue.record("a sixth long name was not locked out")
        } catch let error as WardenError {
            #expect(error.code == .authLockedOut)
        }
    }

    /// Nodes sharing a store count one username's failures together (three nodes do not allow three times the
    /// tries), and a restart forgets no lockout; a quiet spell as long as the longest lockout forgives.
    @Test func failuresOnEveryNodeCountTowardsOneLockout() async throws {
        let fixture = try await AccessFixture()
        try await fixture.user("ada", ["default": .monitor])
        var settings = AccessService.Settings()
        settings.passwordCost = .init(rounds: 1 << 4, blockSize: 8, parallelism: 1)
        let elsewhere = try await AccessService(
            store: fixture.database, settings: settings, clock: fixture.clock, logger: Logger(label: "test"))
        func signIn(_ password: String, on access: AccessService) async throws -> TokenGrant {
            try await access.signIn(
                username: "ada", password: SecretBytes(Array(password.utf8)), totp: nil, from: AccessFixture.address)
        }
        for _ in 1...3 { _ = try? await signIn("wrong password!", on: fixture.access) }
        for _ in 1...2 { _ = try? await signIn("wrong password!", on: elsewhere) }
        await #expect(throws: WardenError(.authLockedOut, "")) {
            try await signIn(AccessFixture.password, on: elsewhere)
        }
        let restarted = try await AccessService(
            store: fixture.database, settings: settings, clock: fixture.clock, logger: Logger(label: "test"))
        await #expect(throws: WardenError(.authLockedOut, "")) {
            try await signIn(AccessFixture.password, on: restarted)
        }
        // Past the lockout and a quiet spell: four more failures on either node lock no one.
        fixture.clock.advance(901)
        for _ in 1...4 { _ = try? await signIn("wrong password!", on: elsewhere) }
        #expect(try await signIn(AccessFixture.password, on: fixture.access).accessToken.isEmpty == false)
    }

    @Test func oneAddressTryingManyUsersIsLockedOut() async throws {
        let fixture = try await AccessFixture()
        try await fixture.user("ada", ["default": .monitor])
        for index in 1...20 { _ = try? await fixture.signIn("guess\(index)", "wrong password!") }
        await #expect(throws: WardenError(.authLockedOut, "")) { try await fixture.signIn("ada") }
        #expect(
            try await fixture.signIn("ada", from: IPAddress("192.0.2.11") ?? .unspecified).accessToken.isEmpty == false)
    }

    @Test func aSecondFactorIsRequiredOnceConfirmedAndEachCodeWorksOnce() async throws {
        let fixture = try await AccessFixture()
        let ada = try await fixture.user("ada", ["default": .monitor])
        let totp = try await fixture.access.enrollTOTP(userID: ada.id)
        let good = totp.code(forStep: TOTP.timeStep(at: fixture.clock.now()))
        await #expect(throws: WardenError(.totpMismatch, "")) {
            try await fixture.access.confirmTOTP(userID: ada.id, code: good == "000000" ? "111111" : "000000")
        }
        try await fixture.access.confirmTOTP(userID: ada.id, code: good)
        await #expect(throws: WardenError(.authTOTPRequired, "")) { try await fixture.signIn("ada") }
        fixture.clock.advance(30)
        let code = totp.code(forStep: TOTP.timeStep(at: fixture.clock.now()))
        #expect(try await fixture.signIn("ada", totp: code).accessToken.isEmpty == false)
        await #expect(throws: WardenError(.authSignInFailed, "")) { try await fixture.signIn("ada", totp: code) }
    }

    @Test func refreshTokensRotateAndReuseRevokesTheFamily() async throws {
        let fixture = try await AccessFixture()
        try await fixture.user("ada", ["default": .monitor])
        let first = try await fixture.signIn("ada")
        let second = try await fixture.access.refresh(first.refreshToken!)
        #expect(second.refreshToken != first.refreshToken)
        #expect(await fixture.principal(second.accessToken)?.name == "ada")
        // The first token again: someone kept a copy. Everything from this sign-in stops.
        await #expect(throws: WardenError(.authInvalidGrant, "")) {
            try await fixture.access.refresh(first.refreshToken!)
        }
        await #expect(throws: WardenError(.authInvalidGrant, "")) {
            try await fixture.access.refresh(second.refreshToken!)
        }
        #expect(await fixture.principal(second.accessToken) == nil)
        await #expect(throws: WardenError(.authInvalidGrant, "")) { try await fixture.access.refresh("wrt_unknown") }
    }

    @Test func expiredRefreshTokensAreRefused() async throws {
        let fixture = try await AccessFixture()
        try await fixture.user("ada", ["default": .monitor])
        let grant = try await fixture.signIn("ada")
        fixture.clock.advance(30 * 86_400 + 1)
        await #expect(throws: WardenError(.authInvalidGrant, "")) {
            try await fixture.access.refresh(grant.refreshToken!)
        }
    }

    @Test func signOutEndsTheSessionAtOnce() async throws {
        let fixture = try await AccessFixture()
        try await fixture.user("ada", ["default": .monitor])
        let grant = try await fixture.signIn("ada")
        try await fixture.access.signOut(refreshToken: grant.refreshToken!)
        #expect(await fixture.principal(grant.accessToken) == nil)
        await #expect(throws: WardenError(.authInvalidGrant, "")) {
            try await fixture.access.refresh(grant.refreshToken!)
        }
    }

    /// A node that missed the sign-out's notice learns it when it reads the store again, and a restarted node
    /// from the store: the session's access tokens stop there too.
    @Test func aSignOutMissedOrForgottenIsReadFromTheStore() async throws {
        let fixture = try await AccessFixture()
        try await fixture.user("ada", ["default": .monitor])
        let grant = try await fixture.signIn("ada")
        let elsewhere = try await AccessService(
            store: fixture.database, settings: .init(), clock: fixture.clock, logger: Logger(label: "test"))
        #expect(await elsewhere.principal(forBearer: Substring(grant.accessToken))?.name == "ada")
        try await fixture.access.signOut(refreshToken: grant.refreshToken!)
        #expect(await elsewhere.principal(forBearer: Substring(grant.accessToken))?.name == "ada")
        try await elsewhere.reload()
        #expect(await elsewhere.principal(forBearer: Substring(grant.accessToken)) == nil)
        let restarted = try await AccessService(
            store: fixture.database, settings: .init(), clock: fixture.clock, logger: Logger(label: "test"))
        #expect(await restarted.principal(forBearer: Substring(grant.accessToken)) == nil)
    }

    @Test func disablingAUserStopsItsTokensAndChangingAPasswordEndsSessions() async throws {
        let fixture = try await AccessFixture()
        try await fixture.user("ada", ["default": .monitor])
        try await fixture.user("bob", ["default": .monitor])
        let ada = try await fixture.signIn("ada")
        _ = try await fixture.access.setEnabled("ada", false, by: fixture.admin)
        #expect(await fixture.principal(ada.accessToken) == nil)
        await #expect(throws: WardenError(.authSignInFailed, "")) { try await fixture.signIn("ada") }

        let bob = try await fixture.signIn("bob")
        fixture.clock.advance(5)
        try await fixture.access.changePassword(
            userID: fixture.access.user(named: "bob")!.id, current: SecretBytes(Array(AccessFixture.password.utf8)),
            new: SecretBytes(Array("another long password".utf8)))
        #expect(await fixture.principal(bob.accessToken) == nil)
        await #expect(throws: WardenError(.authInvalidGrant, "")) {
            try await fixture.access.refresh(bob.refreshToken!)
        }
        fixture.clock.advance(1)
        #expect(try await fixture.signIn("bob", "another long password").accessToken.isEmpty == false)
    }

    @Test func rotatingTheSigningKeyKeepsIssuedTokensValid() async throws {
        let fixture = try await AccessFixture()
        try await fixture.user("ada", ["default": .monitor])
        let before = try await fixture.signIn("ada")
        _ = try await fixture.access.rotateSigningKey()
        #expect(await fixture.principal(before.accessToken)?.name == "ada")
        let after = try await fixture.signIn("ada")
        #expect(await fixture.principal(after.accessToken)?.name == "ada")
    }

    @Test func generatedPasswordsMustBeChanged() async throws {
        let fixture = try await AccessFixture()
        let created = try await fixture.access.createUser(
            username: "cy", password: nil, isPlatformAdmin: false, roles: [.defaultTenant: .monitor], by: fixture.admin)
        let password = try #require(created.generatedPassword)
        #expect(password.bytes.count == 20 && created.user.mustChangePassword)
        let grant = try await fixture.signIn("cy", String(decoding: password.bytes, as: UTF8.self))
        #expect(grant.mustChangePassword)
        let principal = try #require(await fixture.principal(grant.accessToken))
        #expect(principal.mustChangePassword && !principal.may(.registryRead, in: .defaultTenant))
        #expect(principal.may(.ownAccount, in: nil))
        try await fixture.access.changePassword(
            userID: created.user.id, current: password, new: SecretBytes(Array(AccessFixture.password.utf8)))
        fixture.clock.advance(1)
        let chosen = try await fixture.signIn("cy")
        #expect(await fixture.principal(chosen.accessToken)?.may(.registryRead, in: .defaultTenant) == true)
        await #expect(throws: WardenError(.userWeakPassword, "")) {
            _ = try await fixture.access.createUser(
                username: "short", password: SecretBytes(Array("too short".utf8)), isPlatformAdmin: false,
                roles: [.defaultTenant: .monitor], by: fixture.admin)
        }
    }
}

struct RoleRuleTests {
    @Test func grantingIsBoundedByOnesOwnRole() async throws {
        let fixture = try await AccessFixture()
        let admin = try await fixture.user("tenant-admin", ["default": .admin]).principal
        let monitor = try await fixture.user("watcher", ["default": .monitor]).principal
        let password = SecretBytes(Array(AccessFixture.password.utf8))
        _ = try await fixture.access.createUser(
            username: "op", password: password, isPlatformAdmin: false, roles: [.defaultTenant: .operator], by: admin)
        await #expect(throws: WardenError(.roleNotGrantable, "")) {
            _ = try await fixture.access.createUser(
                username: "o2", password: password, isPlatformAdmin: false, roles: [.defaultTenant: .owner], by: admin)
        }
        await #expect(throws: WardenError(.roleNotGrantable, "")) {
            _ = try await fixture.access.createUser(
                username: "o3", password: password, isPlatformAdmin: false, roles: [try TenantID("other"): .monitor],
                by: admin)
        }
        await #expect(throws: WardenError(.roleNotGrantable, "")) {
            _ = try await fixture.access.createUser(
                username: "o4", password: password, isPlatformAdmin: false, roles: [.defaultTenant: .monitor],
                by: monitor)
        }
        await #expect(throws: WardenError(.roleNotGrantable, "")) {
            _ = try await fixture.access.createUser(
                username: "o5", password: password, isPlatformAdmin: true, roles: [:], by: admin)
        }
        // Another tenant's user does not exist for this admin.
        try await fixture.user("stranger", ["other": .monitor])
        #expect(throws: WardenError(.userNotFound, "")) { try fixture.access.user(named: "stranger", visibleTo: admin) }
        #expect(
            fixture.access.users(visibleTo: admin).map(\.username.rawValue).sorted() == [
                "op", "tenant-admin", "watcher",
            ])
    }

    @Test func theLastPlatformAdministratorStays() async throws {
        let fixture = try await AccessFixture()
        await #expect(throws: WardenError(.userLastPlatformAdmin, "")) {
            _ = try await fixture.access.setEnabled("admin", false, by: fixture.admin)
        }
        try await fixture.user("second", [:], platformAdmin: true)
        _ = try await fixture.access.setEnabled("admin", false, by: fixture.admin)
    }
}

struct KeyAndServiceTests {
    @Test func apiKeysCarryAtMostTheirCreatorsPermissionsAndStopWhenRevokedOrExpired() async throws {
        let fixture = try await AccessFixture()
        let operatorPrincipal = try await fixture.user("op", ["default": .operator]).principal
        await #expect(throws: WardenError(.apiKeyInvalidScope, "")) {
            _ = try await fixture.access.createAPIKey(
                in: .defaultTenant, name: "k", permissions: [.registryWrite], deviceGroup: nil, expiresAt: nil,
                by: operatorPrincipal)
        }
        let (key, secret) = try await fixture.access.createAPIKey(
            in: .defaultTenant, name: "dashboard", permissions: [.telemetryRead], deviceGroup: nil,
            expiresAt: fixture.clock.now().addingTimeInterval(3600), by: operatorPrincipal)
        let text = String(decoding: secret.bytes, as: UTF8.self)
        #expect(text.hasPrefix("wak_") && text.count == 4 + 22)
        let principal = try #require(await fixture.principal(text))
        #expect(principal.kind == .apiKey && principal.may(.telemetryRead, in: .defaultTenant))
        #expect(!principal.may(.registryRead, in: .defaultTenant))
        #expect(!principal.may(.telemetryRead, in: try TenantID("other")))
        fixture.clock.advance(3601)
        #expect(await fixture.principal(text) == nil)

        let (_, second) = try await fixture.access.createAPIKey(
            in: .defaultTenant, name: "second", permissions: [.telemetryRead], deviceGroup: nil, expiresAt: nil,
            by: fixture.admin)
        let secondText = String(decoding: second.bytes, as: UTF8.self)
        #expect(await fixture.principal(secondText) != nil)
        let revoked = try await fixture.access.revokeAPIKey(
            in: .defaultTenant,
            id: try #require(fixture.access.apiKeys(in: .defaultTenant).first { $0.name == "second" }).id)
        #expect(revoked.revokedAt != nil && key.revokedAt == nil)
        #expect(await fixture.principal(secondText) == nil)
    }

    @Test func servicePrincipalsUseClientCredentials() async throws {
        let fixture = try await AccessFixture()
        let (service, secret) = try await fixture.access.createServicePrincipal(
            name: "billing", roles: [.defaultTenant: .monitor], by: fixture.admin)
        let text = String(decoding: secret.bytes, as: UTF8.self)
        let grant = try await fixture.access.clientCredentials(
            clientID: service.id, secret: text, from: AccessFixture.address)
        #expect(grant.refreshToken == nil)
        let principal = try #require(await fixture.principal(grant.accessToken))
        #expect(principal.kind == .service && principal.roles == [.defaultTenant: .monitor])
        await #expect(throws: WardenError(.authInvalidGrant, "")) {
            try await fixture.access.clientCredentials(
                clientID: service.id, secret: text + "x", from: AccessFixture.address)
        }
        let rotated = try await fixture.access.rotateSecret(of: service.id, by: fixture.admin)
        await #expect(throws: WardenError(.authInvalidGrant, "")) {
            try await fixture.access.clientCredentials(clientID: service.id, secret: text, from: AccessFixture.address)
        }
        _ = try await fixture.access.clientCredentials(
            clientID: service.id, secret: String(decoding: rotated.bytes, as: UTF8.self), from: AccessFixture.address)
        try await fixture.access.deleteServicePrincipal(service.id, by: fixture.admin)
        #expect(await fixture.principal(grant.accessToken) == nil)
    }

    @Test func everythingSurvivesARestart() async throws {
        let fixture = try await AccessFixture()
        try await fixture.user("ada", ["default": .owner])
        let grant = try await fixture.signIn("ada")
        let reopened = try await AccessService(
            store: fixture.database, settings: .init(), clock: fixture.clock, logger: Logger(label: "test"))
        #expect(await reopened.principal(forBearer: Substring(grant.accessToken))?.roles == [.defaultTenant: .owner])
        #expect(try await reopened.refresh(grant.refreshToken!).subjectName == "ada")
    }
}

/// Two nodes' access services on one store, each with its own bus; what node A announces reaches node B as the
/// cluster delivers it (marked as another node's). B knows A's users, keys and sign-outs only from the notices.
struct AccessAcrossNodesTests {
    @Test func peopleKeysAndSignOutsOnOneNodeHoldOnTheOther() async throws {
        let fixture = try await AccessFixture()
        let (busA, busB) = (EventBus(), EventBus())
        fixture.access.follow(busA)
        let nodeB = try await AccessService(
            store: fixture.database, settings: .init(), clock: fixture.clock, logger: Logger(label: "test"))
        nodeB.follow(busB)
        let crossed = Mutex<[AccessChange]>([])
        _ = busA.observeThisNode { event in
            guard case .accessChanged(let change) = event else { return }
            crossed.withLock { $0.append(change) }
            busB.publish(event, from: .otherNode)
        }
        @Sendable func onB(_ token: String) async -> Principal? { await nodeB.principal(forBearer: Substring(token)) }

        // A user made on A signs in there; B knows the user from A's notice (it re-reads the store).
        try await fixture.user("ada", ["default": .owner])
        let grant = try await fixture.signIn("ada")
        #expect(await waitFor { await onB(grant.accessToken)?.name == "ada" })
        // An API key made on A works on B; revoked on A, it stops on B.
        let (key, secret) = try await fixture.access.createAPIKey(
            in: .defaultTenant, name: "dashboard", permissions: [.telemetryRead], deviceGroup: nil, expiresAt: nil,
            by: fixture.admin)
        let text = String(decoding: secret.bytes, as: UTF8.self)
        #expect(await waitFor { await onB(text) != nil })
        _ = try await fixture.access.revokeAPIKey(in: .defaultTenant, id: key.id)
        #expect(await waitFor { await onB(text) == nil })
        // Signed out on A: the session's access token stops on B at once (the notice carries the session).
        try await fixture.access.signOut(refreshToken: grant.refreshToken!)
        #expect(await onB(grant.accessToken) == nil)
        // A password changed on A ends the user's other tokens on B.
        let second = try await fixture.signIn("ada")
        #expect(await onB(second.accessToken) != nil)
        fixture.clock.advance(5)
        try await fixture.access.changePassword(
            userID: fixture.access.user(named: "ada")!.id, current: SecretBytes(Array(AccessFixture.password.utf8)),
            new: SecretBytes(Array("another long password".utf8)))
        #expect(await onB(second.accessToken) == nil)
        // Each notice names what changed, never a secret.
        let changes = crossed.withLock { $0 }
        #expect(changes.contains(.principals))
        #expect(changes.contains { if case .signedOut = $0 { true } else { false } })
        #expect(changes.contains { if case .tokensRevoked = $0 { true } else { false } })
    }

    /// Notices come over the cluster's bus: what one claims is taken within what a real one can say. A user's
    /// tokens are not cut off from a time to come (that would lock the user out), a sign-out lasts no longer than
    /// an access token, ids longer than any real one are not kept, and after a burst of "people changed" notices
    /// (read by the one reload waiting, at most one waits) none is left waiting and the node still answers.
    @Test func noticesClaimingMoreThanARealOneAreBounded() async throws {
        let fixture = try await AccessFixture()
        let busB = EventBus()
        let nodeB = try await AccessService(
            store: fixture.database, settings: .init(), clock: fixture.clock, logger: Logger(label: "test"))
        nodeB.follow(busB)
        try await fixture.user("ada", ["default": .owner])
        try await nodeB.reload()
        let grant = try await fixture.signIn("ada")
        let ada = try #require(fixture.access.user(named: "ada")).id
        busB.publish(
            .accessChanged(.tokensRevoked(userID: ada, before: fixture.clock.now().addingTimeInterval(86_400))),
            from: .otherNode)
        fixture.clock.advance(120)
        let later = try await fixture.signIn("ada")
        #expect(await waitFor { await nodeB.principal(forBearer: Substring(grant.accessToken)) == nil })
        #expect(await nodeB.principal(forBearer: Substring(later.accessToken))?.name == "ada", "not locked out")
        busB.publish(
            .accessChanged(.signedOut(session: "forged", until: fixture.clock.now().addingTimeInterval(1e9))),
            from: .otherNode)
        busB.publish(
            .accessChanged(.signedOut(session: String(repeating: "s", count: 200_000), until: fixture.clock.now())),
            from: .otherNode)
        #expect(await waitFor { nodeB.state.withLock { $0.revokedSessions["forged"] } != nil })
        let (sessions, forgedUntil) = nodeB.state.withLock { ($0.revokedSessions.count, $0.revokedSessions["forged"]) }
        #expect(sessions == 1)
        #expect(forgedUntil == fixture.clock.now().addingTimeInterval(900))
        for _ in 0..<1_000 { busB.publish(.accessChanged(.principals), from: .otherNode) }
        #expect(await waitFor { !nodeB.state.withLock { $0.principalsReloadWaits } })
        #expect(await nodeB.principal(forBearer: Substring(later.accessToken))?.name == "ada")
    }

    /// A key used only through one node shows its last use on the other once both have flushed their uses; a
    /// node's older use does not take the place of a later one.
    @Test func aKeysLastUseOnOneNodeShowsOnTheOther() async throws {
        let fixture = try await AccessFixture()
        let (key, secret) = try await fixture.access.createAPIKey(
            in: .defaultTenant, name: "dashboard", permissions: [.telemetryRead], deviceGroup: nil, expiresAt: nil,
            by: fixture.admin)
        let nodeB = try await AccessService(
            store: fixture.database, settings: .init(), clock: fixture.clock, logger: Logger(label: "test"))
        fixture.clock.advance(10)
        let usedAt = fixture.clock.now()
        #expect(await nodeB.principal(forBearer: Substring(String(decoding: secret.bytes, as: UTF8.self))) != nil)
        await fixture.access.flushKeyUses()
        #expect(fixture.access.apiKeys(in: .defaultTenant).first { $0.id == key.id }?.lastUsedAt == nil)
        await nodeB.flushKeyUses()
        await fixture.access.flushKeyUses()
        #expect(fixture.access.apiKeys(in: .defaultTenant).first { $0.id == key.id }?.lastUsedAt == usedAt)
    }

    private func waitFor(_ condition: @Sendable () async -> Bool) async -> Bool {
        for _ in 0..<200 {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return await condition()
    }
}
