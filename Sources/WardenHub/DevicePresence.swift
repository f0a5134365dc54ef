import Synchronization
public import WardenBroker
public import WardenCore

/// Which devices are connected now, and when each last connected or disconnected, for the portal.
///
/// Connections and disconnections are rare next to messages, so only they are noted (in memory: the times
/// start over when the server restarts); the connected set comes from the broker's session table.
public final class DevicePresence: Sendable {
    private struct Key: Hashable {
        let tenantID: TenantID
        let deviceID: String
    }

    let broker: Broker
    private let lastActivity = Mutex<[Key: Int64]>([:])
    private let clock: any WardenClock

    public init(broker: Broker, clock: any WardenClock) {
        self.broker = broker
        self.clock = clock
    }

    /// The ids of `tenantID`'s devices with a connected MQTT session now.
    public func connected(in tenantID: TenantID) -> Set<String> {
        broker.connectedClientIDs(in: tenantID)
    }

    /// When the device last connected or disconnected since the server started (milliseconds), or nil.
    public func lastActivity(_ deviceID: DeviceID, in tenantID: TenantID) -> Int64? {
        lastActivity.withLock { $0[Key(tenantID: tenantID, deviceID: deviceID.rawValue)] }
    }

    /// Notes a connection or disconnection now.
    func touched(_ deviceID: DeviceID, in tenantID: TenantID) {
        let now = clock.nowMilliseconds()
        lastActivity.withLock { $0[Key(tenantID: tenantID, deviceID: deviceID.rawValue)] = now }
    }
}
