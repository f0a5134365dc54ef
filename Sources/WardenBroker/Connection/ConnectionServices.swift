import Foundation
import Logging
import NIOCore
import Synchronization
import WardenCore

/// What every connection of one listener shares. Built once by `MQTTListener`.
struct ConnectionServices: Sendable {
    let broker: Broker
    let authenticator: ConnectAuthenticator
    let authorizer: any Authorizer
    let limiter: ConnectRateLimiter
    /// Connections not yet authenticated, per source address and in total (shared by every MQTT listener).
    let pending: PendingConnections
    let listener: MQTTListener.Configuration
    let clock: any WardenClock
    let logger: Logger
    let connectionIDs: ConnectionIDs
    /// Where authentication outcomes are published.
    let events: EventBus

    /// Now, in Unix seconds, for SAS expiry.
    var unixNow: UInt64 { clock.now().unixSeconds }

    /// When a credential expiring at `expiry` (Unix seconds) ends, on the monotonic clock. The device chose
    /// `expiry` (a SAS token's `se` is any `UInt64`), so nothing here may trap: the time left saturates, and
    /// `TimeAmount.seconds` and `NIODeadline.+` cap at the distant future.
    func credentialDeadline(expiry: UInt64, now: NIODeadline) -> NIODeadline {
        let (left, isPast) = expiry.subtractingReportingOverflow(unixNow)
        return now + .seconds(isPast ? 0 : Int64(clamping: left))
    }
}

/// Numbers connections for log lines (`connection.id`).
final class ConnectionIDs: Sendable {
    private let counter = Atomic<UInt64>(0)

    func next() -> UInt64 { counter.wrappingAdd(1, ordering: .relaxed).newValue }
}
