public import NIOCore
import Synchronization
public import WardenCore

/// Limits connection attempts per source address before any TLS work is spent on them (issue 3): a token
/// bucket per address, charged when the TCP connection opens and refunded when it authenticates, so floods
/// of unauthenticated attempts are cut off while a busy NAT of honest devices is not.
public final class ConnectRateLimiter: Sendable {
    /// Attempts per second per address, and the burst allowed above it.
    public struct Configuration: Sendable {
        public var ratePerSecond: Double = 20
        public var burst: Double = 100
        /// Addresses tracked at once; beyond it, idle (full) buckets are forgotten first.
        public var maximumAddresses = 65_536

        public init() {}
    }

    private struct Bucket {
        var tokens: Double
        var updated: NIODeadline
    }

    private let configuration: Configuration
    private let buckets = Mutex([IPAddress: Bucket]())

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Takes one token for `address`; false when its bucket is empty.
    public func admit(_ address: IPAddress, now: NIODeadline) -> Bool {
        buckets.withLock { buckets in
            var bucket = refilled(buckets[address], now: now)
            guard bucket.tokens >= 1 else {
                buckets[address] = bucket
                return false
            }
            bucket.tokens -= 1
            if buckets[address] == nil, buckets.count >= configuration.maximumAddresses {
                forgetFullBuckets(&buckets, now: now)
                guard buckets.count < configuration.maximumAddresses else { return false }
            }
            buckets[address] = bucket
            return true
        }
    }

    /// Gives the token back: the connection authenticated.
    public func refund(_ address: IPAddress) {
        buckets.withLock { buckets in
            guard var bucket = buckets[address] else { return }
            bucket.tokens = min(configuration.burst, bucket.tokens + 1)
            buckets[address] = bucket
        }
    }

    private func refilled(_ bucket: Bucket?, now: NIODeadline) -> Bucket {
        guard let bucket else { return Bucket(tokens: configuration.burst, updated: now) }
        let elapsed = Double((now - bucket.updated).nanoseconds) / 1e9
        return Bucket(
            tokens: min(configuration.burst, bucket.tokens + elapsed * configuration.ratePerSecond), updated: now)
    }

    private func forgetFullBuckets(_ buckets: inout [IPAddress: Bucket], now: NIODeadline) {
        buckets = buckets.filter { refilled($0.value, now: now).tokens < configuration.burst }
    }
}
