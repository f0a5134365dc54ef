import Foundation
import Logging
import Synchronization
public import WardenCore
public import WardenSecurity
import WardenStore

extension AccessService {
    /// What `createUser` returns: the user and, when Warden chose the password, that password (shown once).
    public struct NewUser: Sendable {
        public let user: User
        public let generatedPassword: SecretBytes?
    }

    /// Creates a user. Without a password Warden generates one that must be changed at the first sign-in.
    /// `actor` may only grant roles it could hold itself, in tenants where it manages users.
    public func createUser(
        username: String, password: SecretBytes?, isPlatformAdmin: Bool, roles: [TenantID: Role], by actor: Principal
    ) async throws(WardenError) -> NewUser {
        let name = try Username(username)
        guard isPlatformAdmin || !roles.isEmpty else {
            throw WardenError(.requestInvalidField, "A user needs a role in at least one tenant, or the platform role.")
        }
        if isPlatformAdmin, !actor.isPlatformAdmin {
            throw WardenError(.roleNotGrantable, "Only a platform administrator makes another.")
        }
        for (tenant, role) in roles { try Self.check(actor, mayGrant: role, in: tenant) }
        let generated = password == nil ? Self.generatePassword() : nil
        let chosen = password ?? generated ?? SecretBytes([])
        try Self.checkStrength(chosen)
        let user = User(
            id: "usr_" + Self.randomID(), username: name, passwordHash: try hasher.hash(chosen),
            isPlatformAdmin: isPlatformAdmin, roles: roles, mustChangePassword: generated != nil,
            createdAt: clock.now())
        try await writes.runCoded {
            try await self.store.createUser(user)
            self.state.withLock { state in
                state.users[user.id] = user
                state.userIDs[user.username.rawValue] = user.id
            }
            self.announce(.principals)
        }
        return NewUser(user: user, generatedPassword: generated)
    }

    /// The users `actor` may see: every one for a platform administrator; otherwise those with a role in a
    /// tenant where `actor` manages users, and `actor` itself.
    public func users(visibleTo actor: Principal) -> [User] {
        users().filter { Self.canSee($0, actor) }
    }

    /// One user by name, if `actor` may see it; `user.not_found` otherwise (another tenant's user does not exist
    /// for this caller).
    public func user(named username: String, visibleTo actor: Principal) throws(WardenError) -> User {
        guard let user = user(named: username), Self.canSee(user, actor) else {
            throw WardenError(.userNotFound, "There is no user '\(username)'.")
        }
        return user
    }

    /// Enables or disables a user; disabling revokes its sessions at once.
    public func setEnabled(_ username: String, _ isEnabled: Bool, by actor: Principal) async throws(WardenError)
        -> User
    {
        let user = try manageable(username, by: actor)
        if !isEnabled { try ensureAnotherPlatformAdmin(besides: user) }
        let changed = try await change(user.id) { $0.isEnabled = isEnabled }
        if !isEnabled { await revokeEverything(of: user.id) }
        return changed
    }

    /// Deletes a user and its sessions.
    public func deleteUser(_ username: String, by actor: Principal) async throws(WardenError) {
        let user = try manageable(username, by: actor)
        try ensureAnotherPlatformAdmin(besides: user)
        try await writes.runCoded {
            try await self.store.deleteUser(user.id)
            self.state.withLock { state in
                state.users[user.id] = nil
                state.userIDs[user.username.rawValue] = nil
            }
            self.announce(.principals)
        }
    }

    /// Gives a user or service principal a role in `tenant`, or takes it away (nil).
    public func setRole(_ role: Role?, for subject: String, in tenant: TenantID, by actor: Principal)
        async throws(WardenError) -> [TenantID: Role]
    {
        if let role { try Self.check(actor, mayGrant: role, in: tenant) }
        if subject.hasPrefix("sp_") {
            guard let service = servicePrincipal(id: subject),
                actor.isPlatformAdmin || service.roles[tenant] != nil || role != nil
            else { throw WardenError(.servicePrincipalNotFound, "There is no service principal '\(subject)'.") }
            if let current = service.roles[tenant] { try Self.check(actor, mayGrant: current, in: tenant) }
            return try await changeService(service.id) { $0.roles[tenant] = role }.roles
        }
        guard let user = user(named: subject), Self.canSee(user, actor) || role != nil else {
            throw WardenError(.userNotFound, "There is no user '\(subject)'.")
        }
        if let current = user.roles[tenant] { try Self.check(actor, mayGrant: current, in: tenant) }
        return try await change(user.id) { $0.roles[tenant] = role }.roles
    }

    /// Changes the caller's own password; every other session of the user ends.
    public func changePassword(userID: String, current: SecretBytes, new: SecretBytes) async throws(WardenError) {
        guard let user = user(id: userID) else { throw WardenError(.userNotFound, "There is no such user.") }
        guard hasher.verify(current, against: user.passwordHash) else {
            throw WardenError(.authSignInFailed, "The current password is not right.")
        }
        try Self.checkStrength(new)
        let hash = try hasher.hash(new)
        _ = try await change(user.id) {
            $0.passwordHash = hash
            $0.mustChangePassword = false
        }
        await revokeEverything(of: user.id)
    }

    /// Starts TOTP enrollment: a new secret, pending until `confirmTOTP` sees a code from it.
    public func enrollTOTP(userID: String) async throws(WardenError) -> TOTP {
        let totp = TOTP.generate()
        _ = try await change(userID) { $0.pendingTOTPSecret = totp.secret }
        return totp
    }

    /// Confirms the pending TOTP secret with a code from the app; from then on sign-in needs a code.
    public func confirmTOTP(userID: String, code: String) async throws(WardenError) {
        guard let user = user(id: userID) else { throw WardenError(.userNotFound, "There is no such user.") }
        guard let pending = user.pendingTOTPSecret else {
            throw WardenError(.totpNotPending, "There is no TOTP secret waiting; enroll first.")
        }
        guard let step = TOTP(secret: pending).acceptedStep(for: code, at: clock.now(), after: nil) else {
            throw WardenError(.totpMismatch, "The code does not match; check the app's clock and try again.")
        }
        _ = try await change(userID) {
            $0.totpSecret = pending
            $0.pendingTOTPSecret = nil
            $0.lastTOTPStep = step
        }
    }

    /// Removes a user's second factor (the user itself, or someone who manages it).
    public func removeTOTP(_ username: String, by actor: Principal) async throws(WardenError) -> User {
        let user =
            actor.id == user(named: username)?.id
            ? try user(named: username, visibleTo: actor)
            : try manageable(username, by: actor)
        return try await change(user.id) {
            $0.totpSecret = nil
            $0.pendingTOTPSecret = nil
        }
    }

    /// Makes sure the bootstrap administrator exists as a platform-admin user and accepts its credential.
    /// Returns the generated password on the start that created the user.
    public func ensureBootstrapAdmin(username: String, credentialHash: [UInt8]) async throws(WardenError)
        -> SecretBytes?
    {
        var generated: SecretBytes?
        let existing = user(named: username)
        let admin: User
        if let existing {
            admin = existing
        } else {
            let password = Self.generatePassword()
            generated = password
            admin = User(
                id: "usr_" + Self.randomID(), username: try Username(username), passwordHash: try hasher.hash(password),
                isPlatformAdmin: true, mustChangePassword: true, createdAt: clock.now())
            try await writes.runCoded {
                try await self.store.createUser(admin)
                self.state.withLock { state in
                    state.users[admin.id] = admin
                    state.userIDs[admin.username.rawValue] = admin.id
                }
                self.announce(.principals)
            }
        }
        bootstrap.withLock { $0 = (credentialHash, admin.id) }
        return generated
    }

    // MARK: Rules

    static func canSee(_ user: User, _ actor: Principal) -> Bool {
        actor.isPlatformAdmin || actor.id == user.id
            || user.roles.keys.contains { actor.may(.usersManage, in: $0) }
    }

    /// The user, when `actor` may change it: it manages users in every tenant the user has a role in, may grant
    /// each of those roles, and only a platform administrator changes another.
    func manageable(_ username: String, by actor: Principal) throws(WardenError) -> User {
        let user = try user(named: username, visibleTo: actor)
        if actor.isPlatformAdmin { return user }
        guard !user.isPlatformAdmin else {
            throw WardenError(.roleNotGrantable, "Only a platform administrator changes another.")
        }
        for (tenant, role) in user.roles { try Self.check(actor, mayGrant: role, in: tenant) }
        return user
    }

    static func check(_ actor: Principal, mayGrant role: Role, in tenant: TenantID) throws(WardenError) {
        if actor.isPlatformAdmin { return }
        guard actor.keyScope == nil, actor.may(.usersManage, in: tenant), let own = actor.roles[tenant],
            own.mayGrant(role)
        else {
            throw WardenError(.roleNotGrantable, "You may not grant the \(role.rawValue) role in '\(tenant)'.")
        }
    }

    private func ensureAnotherPlatformAdmin(besides user: User) throws(WardenError) {
        guard user.isPlatformAdmin else { return }
        let others = users().filter { $0.isPlatformAdmin && $0.isEnabled && $0.id != user.id }
        guard !others.isEmpty else {
            throw WardenError(.userLastPlatformAdmin, "'\(user.username)' is the last platform administrator.")
        }
    }

    static func checkStrength(_ password: SecretBytes) throws(WardenError) {
        guard (PasswordHasher.minimumLength...PasswordHasher.maximumLength).contains(password.bytes.count) else {
            throw WardenError(
                .userWeakPassword,
                "A password needs \(PasswordHasher.minimumLength) to \(PasswordHasher.maximumLength) characters.")
        }
    }

    /// 20 characters from a 56-letter alphabet without look-alikes (about 116 bits).
    static func generatePassword() -> SecretBytes {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789".utf8)
        var generator = SystemRandomNumberGenerator()
        return SecretBytes((0..<20).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    // MARK: Writes

    /// Changes one user in the store, then in memory.
    func change(_ id: String, _ body: @escaping @Sendable (inout User) throws -> Void) async throws(WardenError)
        -> User
    {
        try await writes.runCoded {
            let user = try await self.store.updateUser(id, body)
            self.state.withLock { $0.users[id] = user }
            self.announce(.principals)
            return user
        }
    }

    func changeService(_ id: String, _ body: @escaping @Sendable (inout ServicePrincipal) throws -> Void)
        async throws(WardenError) -> ServicePrincipal
    {
        try await writes.runCoded {
            let service = try await self.store.updateServicePrincipal(id, body)
            self.state.withLock { $0.services[id] = service }
            self.announce(.principals)
            return service
        }
    }

    /// Ends every session of a user: refresh tokens revoked, access tokens issued until now refused.
    func revokeEverything(of userID: String) async {
        let now = clock.now()
        // Tokens carry whole seconds (`iat`): one issued in this same second still works until it expires.
        let notBefore = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        state.withLock { $0.notBefore[userID] = notBefore }
        announce(.tokensRevoked(userID: userID, before: notBefore))
        do {
            try await store.revokeRefreshTokens(userID: userID, at: now)
        } catch {
            logger.error(
                "Cannot revoke a user's refresh tokens.", metadata: ["user.id": "\(userID)", "error": "\(error)"])
        }
    }
}

extension SerialWrites {
    /// Runs `body` in turn, passing coded errors through and naming others a store failure.
    func runCoded<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws(WardenError) -> T {
        do {
            return try await run(body)
        } catch let error as WardenError {
            throw error
        } catch {
            throw WardenError(.storeUnavailable, "The change cannot be stored: \(error).")
        }
    }
}
