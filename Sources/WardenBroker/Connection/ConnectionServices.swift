import Foundation
import Logging
import NIOCore
import Synchronization
import WardenAuthentication
import WardenCore
import WardenPolicy

/// What every connection of one listener shares. Built once by `MQTTListener`.
struct ConnectionServices: Sendable {
    let broker: Broker
    let authenticator: DeviceAuthenticator
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
    /// Banned addresses and client ids (the Defender's).
    var gate: any ConnectionGate = OpenGate()
    /// Where devices' activity and connection endings are reported (the Defender's), if anywhere.
    var observer: (any ConnectionObserver)?

    /// Now, in Unix seconds, for SAS expiry.
    var unixNow: UInt64 { clock.now().unixSeconds }
}

/// Numbers connections for log lines (`connection.id`).
final class ConnectionIDs: Sendable {
    private let counter = Atomic<UInt64>(0)

    func next() -> UInt64 { counter.wrappingAdd(1, ordering: .relaxed).newValue }
}
