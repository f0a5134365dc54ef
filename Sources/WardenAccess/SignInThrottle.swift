public import Foundation
import Synchronization

/// Backoff and temporary lockout after failed sign-ins, counted per username and per source address.
///
/// After `threshold` failures in a row a key is locked for `baseLockout`, doubling with each further failure
/// up to `maximumLockout`; a success clears the username's count (not the address's: one account's password
/// does not vouch for an address trying many). The table is bounded: at `capacity` the oldest entries go.
public final class SignInThrottle: Sendable {
    public struct Settings: Sendable, Hashable {
        public var userThreshold = 5
        public var addressThreshold = 20
        public var baseLockout: TimeInterval = 60
        public var maximumLockout: TimeInterval = 900
        public var capacity = 100_000

        public init() {}
    }

    private struct Entry {
        var failures: Int
        var lockedUntil: Date?
        var lastFailure: Date
    }

    private let settings: Settings
    private let entries = Mutex([String: Entry]())

    public init(settings: Settings) {
        self.settings = settings
    }

    /// When `username` or `address` may try again, if either is locked at `now`.
    public func lockedUntil(username: String, address: String, now: Date) -> Date? {
        entries.withLock { entries in
            [Self.userKey(username), Self.addressKey(address)]
                .compactMap { entries[$0]?.lockedUntil }
                .filter { $0 > now }
                .max()
        }
    }

    /// Counts a failure; returns the lockout end when this failure starts or extends one.
    @discardableResult
    public func failed(username: String, address: String, now: Date) -> Date? {
        entries.withLock { entries in
            if entries.count >= settings.capacity { Self.evictOldest(&entries, keeping: settings.capacity / 2) }
            let user = Self.bump(
                &entries, Self.userKey(username), threshold: settings.userThreshold, now: now,
                settings: settings)
            let address = Self.bump(
                &entries, Self.addressKey(address), threshold: settings.addressThreshold,
                now: now, settings: settings)
            return [user, address].compactMap { $0 }.max()
        }
    }

    /// Clears the username's failures after a successful sign-in.
    public func succeeded(username: String) {
        _ = entries.withLock { $0.removeValue(forKey: Self.userKey(username)) }
    }

    private static func bump(
        _ entries: inout [String: Entry], _ key: String, threshold: Int, now: Date, settings: Settings
    ) -> Date? {
        var entry = entries[key] ?? Entry(failures: 0, lockedUntil: nil, lastFailure: now)
        // A quiet spell as long as the longest lockout forgives earlier failures.
        if now.timeIntervalSince(entry.lastFailure) > settings.maximumLockout { entry.failures = 0 }
        entry.failures += 1
        entry.lastFailure = now
        var lockedUntil: Date?
        if entry.failures >= threshold {
            let exponent = min(entry.failures - threshold, 16)
            let duration = min(settings.baseLockout * Double(1 << exponent), settings.maximumLockout)
            lockedUntil = now.addingTimeInterval(duration)
            entry.lockedUntil = lockedUntil
        }
        entries[key] = entry
        return lockedUntil
    }

    private static func evictOldest(_ entries: inout [String: Entry], keeping count: Int) {
        let kept = entries.sorted { $0.value.lastFailure > $1.value.lastFailure }.prefix(count)
        entries = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
    }

    private static func userKey(_ username: String) -> String { "u:" + username }
    private static func addressKey(_ address: String) -> String { "a:" + address }
}
