import Foundation
import Logging
import Metrics
import Synchronization
public import WardenCore
public import WardenSecurity
import WardenStore

extension AccessService {
    /// Signs a user in with a password (and a TOTP code when the user has a second factor).
    ///
    /// Every failure says only `auth.sign_in_failed` (never which part was wrong), counts towards the
    /// username's and the address's lockout, and costs one scrypt even for an unknown user.
    public func signIn(username: String, password: SecretBytes, totp: String?, from address: IPAddress)
        async throws(WardenError) -> TokenGrant
    {
        let now = clock.now()
        if let until = try await throttle.lockedUntil(username: username, address: address.description, now: now) {
            throw Self.lockedOut(until: until, now: now)
        }
        guard let user = user(named: username) else {
            hasher.verifyNothing(password)
            throw await failedSignIn(username: username, address: address, now: now, why: "no such user")
        }
        guard hasher.verify(password, against: user.passwordHash) else {
            throw await failedSignIn(username: username, address: address, now: now, why: "wrong password")
        }
        guard user.isEnabled else {
            throw await failedSignIn(username: username, address: address, now: now, why: "user disabled")
        }
        if let secret = user.totpSecret {
            guard let totp else {
                throw WardenError(.authTOTPRequired, "This user has a second factor: send the code from the app.")
            }
            guard let step = TOTP(secret: secret).acceptedStep(for: totp, at: now, after: user.lastTOTPStep) else {
                throw await failedSignIn(username: username, address: address, now: now, why: "wrong TOTP code")
            }
            // Spend the step so the same code cannot sign in twice: checked again against the stored step in the
            // same transaction, because another node sharing the store may have spent it since this one's copy.
            do {
                _ = try await change(user.id) { stored in
                    if let spent = stored.lastTOTPStep, spent >= step {
                        throw WardenError(.authSignInFailed, "The TOTP code was used already.")
                    }
                    stored.lastTOTPStep = step
                }
            } catch  where error.code == .authSignInFailed {
                throw await failedSignIn(username: username, address: address, now: now, why: "TOTP code used already")
            }
        }
        // The password and any code are spent: a count the store cannot clear now only makes the next failures
        // stricter, and is no reason to refuse this sign-in.
        do {
            try await throttle.succeeded(username: username)
        } catch {
            logger.warning("A sign-in's failures could not be cleared.", metadata: ["error": "\(error)"])
        }
        if hasher.needsRehash(user.passwordHash), let upgraded = try? hasher.hash(password) {
            _ = try? await change(user.id) { $0.passwordHash = upgraded }
        }
        return try await issue(for: user, family: Self.randomID(), now: now)
    }

    /// Exchanges a refresh token for new tokens (RFC 6749 §6). The old one is spent; presenting a spent one
    /// again revokes the whole family (every token descending from that sign-in).
    public func refresh(_ presented: String) async throws(WardenError) -> TokenGrant {
        let now = clock.now()
        let successor = BearerCredential.generate(prefix: "wrt_")
        let spent: RefreshToken?
        do {
            spent = try await store.exchangeRefreshToken(
                BearerCredential.hash(presented: presented), successorHash: BearerCredential.hash(successor),
                successorExpiresAt: now.addingTimeInterval(settings.refreshTokenLifetime), at: now)
        } catch {
            throw WardenError(.storeUnavailable, "The refresh token cannot be checked: \(error).")
        }
        guard let spent else { throw WardenError(.authInvalidGrant, "The refresh token is not known.") }
        guard spent.usedAt == nil, spent.revokedAt == nil else {
            revokeSession(spent.family, now: now)
            logger.warning(
                "A spent refresh token was presented again; the session is revoked.",
                metadata: ["user.id": "\(spent.userID)", "session": "\(spent.family)"])
            throw WardenError(.authInvalidGrant, "The refresh token was already used; sign in again.")
        }
        guard spent.expiresAt > now else { throw WardenError(.authInvalidGrant, "The refresh token has expired.") }
        guard let user = user(id: spent.userID), user.isEnabled else {
            try? await store.revokeRefreshFamily(spent.family, at: now)
            throw WardenError(.authInvalidGrant, "The user cannot sign in.")
        }
        return try await grant(for: user, family: spent.family, refresh: successor, now: now)
    }

    /// Revokes the session a refresh token belongs to (sign-out): its refresh tokens and its access tokens.
    /// An unknown token is ignored (signing out twice is not an error).
    public func signOut(refreshToken presented: String) async throws(WardenError) {
        let now = clock.now()
        guard let family = try? await store.refreshTokenFamily(BearerCredential.hash(presented: presented)) else {
            return
        }
        do {
            try await store.revokeRefreshFamily(family, at: now)
        } catch {
            throw WardenError(.storeUnavailable, "The session cannot be revoked: \(error).")
        }
        revokeSession(family, now: now)
    }

    /// Stops the access tokens of a session until they would have expired anyway.
    func revokeSession(_ family: String, now: Date) {
        let until = now.addingTimeInterval(settings.accessTokenLifetime)
        state.withLock { state in
            state.revokedSessions = state.revokedSessions.filter { $0.value > now }
            state.revokedSessions[family] = until
        }
        announce(.signedOut(session: family, until: until))
    }

    /// Client credentials (RFC 6749 §4.4): a service principal's id and secret → an access token.
    public func clientCredentials(clientID: String, secret: String, from address: IPAddress)
        async throws(WardenError) -> TokenGrant
    {
        let now = clock.now()
        if let until = try await throttle.lockedUntil(username: clientID, address: address.description, now: now) {
            throw Self.lockedOut(until: until, now: now)
        }
        guard let service = servicePrincipal(id: clientID), service.isEnabled,
            BearerCredential.matches(secret, storedHash: service.secretHash)
        else {
            try await throttle.failed(username: clientID, address: address.description, now: now)
            logger.notice(
                "Client credentials refused.", metadata: ["client.id": "\(clientID)", "client.address": "\(address)"])
            throw WardenError(.authInvalidGrant, "The client credentials are not valid.")
        }
        let claims = AccessTokenClaims(
            subject: service.id, kind: "service", session: nil, issuedAt: now,
            expiresAt: now.addingTimeInterval(settings.accessTokenLifetime), id: Self.randomID())
        let token = try await state.withLock { $0.authority }.sign(claims)
        // total: a configured lifetime, 60...86400 seconds.
        return TokenGrant(
            accessToken: token, refreshToken: nil, expiresIn: Int(settings.accessTokenLifetime),
            subjectID: service.id, subjectName: service.name, mustChangePassword: false)
    }

    // MARK: Helpers

    func issue(for user: User, family: String, now: Date) async throws(WardenError) -> TokenGrant {
        let refresh = BearerCredential.generate(prefix: "wrt_")
        do {
            try await store.insertRefreshToken(
                RefreshToken(
                    hash: BearerCredential.hash(refresh), family: family, userID: user.id, issuedAt: now,
                    expiresAt: now.addingTimeInterval(settings.refreshTokenLifetime)))
        } catch {
            throw WardenError(.storeUnavailable, "The session cannot be stored: \(error).")
        }
        return try await grant(for: user, family: family, refresh: refresh, now: now)
    }

    func grant(for user: User, family: String, refresh: SecretBytes, now: Date) async throws(WardenError)
        -> TokenGrant
    {
        let claims = AccessTokenClaims(
            subject: user.id, kind: "user", session: family, issuedAt: now,
            expiresAt: now.addingTimeInterval(settings.accessTokenLifetime), id: Self.randomID())
        let token = try await state.withLock { $0.authority }.sign(claims)
        // total: a configured lifetime, 60...86400 seconds.
        return TokenGrant(
            accessToken: token, refreshToken: String(decoding: refresh.bytes, as: UTF8.self),
            expiresIn: Int(settings.accessTokenLifetime), subjectID: user.id, subjectName: user.username.rawValue,
            mustChangePassword: user.mustChangePassword)
    }

    /// The error for a failed sign-in, counted towards the lockouts; a failure the store cannot count is refused as
    /// the store's (never an uncounted guess).
    private func failedSignIn(username: String, address: IPAddress, now: Date, why: String) async -> WardenError {
        let lockedUntil: Date?
        do {
            lockedUntil = try await throttle.failed(username: username, address: address.description, now: now)
        } catch {
            return error
        }
        Counter(label: "warden_auth_sign_in_failures_total").increment()
        if lockedUntil != nil { Counter(label: "warden_auth_lockouts_total").increment() }
        logger.notice(
            "Sign-in refused.",
            metadata: [
                "user.name": "\(username)", "client.address": "\(address)", "why": "\(why)",
                "locked.until": "\(lockedUntil.map { "\($0)" } ?? "-")",
            ])
        return WardenError(.authSignInFailed, "The username or password is not right.")
    }

    static func lockedOut(until: Date, now: Date) -> WardenError {
        var error = WardenError(.authLockedOut, "Too many failed sign-ins; try again later.")
        error.retryAfter = max(1, Int(clamping: until.timeIntervalSince(now).rounded(.up)))
        return error
    }

    /// 128 random bits in base64url: session families and token ids.
    static func randomID() -> String {
        Data(SecretBytes.random(count: 16).bytes).base64URL
    }
}
