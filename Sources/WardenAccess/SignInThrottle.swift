public import Foundation
import Synchronization
public import WardenCore
public import WardenStore

/// Backoff and temporary lockout after failed sign-ins, counted per username and per source address in the store,
/// so that every node sharing it counts every failure (three nodes do not allow three times the tries) and a
/// restart forgets no lockout.
///
/// After `threshold` failures in a row a key is locked for `baseLockout`, doubling with each further failure
/// up to `maximumLockout`; a success clears the username's count (not the address's: one account's password
/// does not vouch for an address trying many). A quiet spell as long as the longest lockout forgives earlier
/// failures, and such keys leave the store; at most `capacity` keys are kept, the most recently failed, besides
/// those locked now (an attacker failing from many addresses cannot push a lockout out).
public final class SignInThrottle: Sendable {
    public struct Settings: Sendable, Hashable {
        public var userThreshold = 5
        public var addressThreshold = 20
        public var baseLockout: TimeInterval = 60
        public var maximumLockout: TimeInterval = 900
        public var capacity = 100_000

        public init() {}
    }

    private let settings: Settings
    private let store: any AccessStore
    /// Failures counted by this node: every `pruneEvery`th prunes the store.
    private let counted = Atomic(0)
    static let pruneEvery = 256

    public init(settings: Settings, store: any AccessStore) {
        self.settings = settings
        self.store = store
    }

    /// When `username` or `address` may try again, if either is locked at `now`.
    public func lockedUntil(username: String, address: String, now: Date) async throws(WardenError) -> Date? {
        do {
            return try await store.signInLockedUntil([Self.userKey(username), Self.addressKey(address)], after: now)
        } catch {
            throw WardenError(.storeUnavailable, "Failed sign-ins cannot be read: \(error).")
        }
    }

    /// Counts a failure; returns the lockout end when this failure starts or extends one.
    @discardableResult
    public func failed(username: String, address: String, now: Date) async throws(WardenError) -> Date? {
        do {
            let user = try await count(Self.userKey(username), threshold: settings.userThreshold, now: now)
            let address = try await count(Self.addressKey(address), threshold: settings.addressThreshold, now: now)
            if counted.wrappingAdd(1, ordering: .relaxed).newValue % Self.pruneEvery == 0 {
                try await store.pruneSignInFailures(
                    quietSince: now.addingTimeInterval(-settings.maximumLockout), keeping: settings.capacity, now: now)
            }
            return [user, address].compactMap { $0 }.max()
        } catch {
            throw WardenError(.storeUnavailable, "A failed sign-in cannot be counted: \(error).")
        }
    }

    /// Clears the username's failures after a successful sign-in.
    public func succeeded(username: String) async throws(WardenError) {
        do {
            try await store.forgetSignInFailures(Self.userKey(username))
        } catch {
            throw WardenError(.storeUnavailable, "A sign-in's failures cannot be cleared: \(error).")
        }
    }

    private func count(_ key: String, threshold: Int, now: Date) async throws -> Date? {
        let failures = try await store.countSignInFailure(
            key, at: now, forgiveBefore: now.addingTimeInterval(-settings.maximumLockout))
        guard failures >= threshold else { return nil }
        let exponent = min(failures - threshold, 16)
        let until = now.addingTimeInterval(min(settings.baseLockout * Double(1 << exponent), settings.maximumLockout))
        try await store.lockSignIn(key, until: until)
        return until
    }

    /// A name longer than any account's (up to 64 KiB from a form) is counted by its first `maximumNameBytes`
    /// bytes: the store's keys stay small, and failures of such names count together.
    private static func userKey(_ username: String) -> String { "u:" + username.utf8Prefix(maximumNameBytes) }
    static let maximumNameBytes = 128
    private static func addressKey(_ address: String) -> String { "a:" + address }
}
