import Synchronization
public import WardenBroker
public import WardenCore

/// Which devices are connected now, and when each last connected or disconnected, for the portal and the API.
///
/// Connections and disconnections are rare next to messages, so only they are noted (in memory: the times
/// start over when the server restarts); the connected set comes from the broker's session table. On a node of a
/// cluster the other nodes are asked too (`PresenceRelay`), so every node tells the same.
public final class DevicePresence: Sendable {
    private struct Key: Hashable {
        let tenantID: TenantID
        let deviceID: String
    }

    let broker: Broker
    private let lastActivity = Mutex<[Key: Int64]>([:])
    private let clock: any WardenClock
    private let relay = Mutex<(any PresenceRelay)?>(nil)
    /// Devices one question asks about: a page of them.
    public static let maximumDevicesAsked = 1_000

    public init(broker: Broker, clock: any WardenClock) {
        self.broker = broker
        self.clock = clock
    }

    /// Asks the other nodes of a cluster too, through `relay`.
    public func install(relay: any PresenceRelay) {
        self.relay.withLock { $0 = relay }
    }

    /// Which of `deviceIDs` (the first `maximumDevicesAsked`) are connected, with when each last connected or
    /// disconnected, and, when `countingTenant`, how many of `tenantID`'s clients are connected (a walk over every
    /// session: for pages that show it): on this node and every other node that answers.
    public func presence(in tenantID: TenantID, of deviceIDs: [DeviceID], countingTenant: Bool = false) async
        -> Presence
    {
        let asked = deviceIDs.prefix(Self.maximumDevicesAsked).map(\.rawValue)
        var presence = here(in: tenantID, of: asked, countingTenant: countingTenant)
        if let relay = relay.withLock({ $0 }) {
            presence.merge(await relay.elsewhere(in: tenantID, of: asked, countingTenant: countingTenant))
        }
        return presence
    }

    /// Which of `deviceIDs`, however many, are connected to this node or another: asked a page
    /// (`maximumDevicesAsked`) at a time, for the audit's devices that look silent.
    public func connected(in tenantID: TenantID, among deviceIDs: [DeviceID]) async -> Set<String> {
        var connected: Set<String> = []
        for start in stride(from: 0, to: deviceIDs.count, by: Self.maximumDevicesAsked) {
            let page = Array(deviceIDs[start..<min(start + Self.maximumDevicesAsked, deviceIDs.count)])
            connected.formUnion(await presence(in: tenantID, of: page).connected)
        }
        return connected
    }

    /// What this node alone knows of `tenantID` and `deviceIDs` (an answer to another node, too).
    public func here(in tenantID: TenantID, of deviceIDs: [String], countingTenant: Bool) -> Presence {
        let activity = lastActivity.withLock { times in
            deviceIDs.compactMap { id in times[Key(tenantID: tenantID, deviceID: id)].map { (id, $0) } }
        }
        return Presence(
            connectedCount: countingTenant ? broker.connectedClientIDs(in: tenantID).count : 0,
            connected: broker.connected(deviceIDs, in: tenantID),
            lastActivity: Dictionary(activity) { first, _ in first })
    }

    /// Notes a connection or disconnection now.
    func touched(_ deviceID: DeviceID, in tenantID: TenantID) {
        let now = clock.nowMilliseconds()
        lastActivity.withLock { $0[Key(tenantID: tenantID, deviceID: deviceID.rawValue)] = now }
    }
}

/// What one or several nodes know of a tenant's connections.
public struct Presence: Sendable, Codable, Equatable {
    /// The tenant's connected clients (devices and others), when counted.
    public var connectedCount: Int
    /// Which of the devices asked about are connected.
    public var connected: Set<String>
    /// When each of the devices asked about last connected or disconnected (milliseconds), where known.
    public var lastActivity: [String: Int64]

    public init(connectedCount: Int = 0, connected: Set<String> = [], lastActivity: [String: Int64] = [:]) {
        self.connectedCount = connectedCount
        self.connected = connected
        self.lastActivity = lastActivity
    }

    /// Adds another node's knowledge: its connections, and any later activity.
    public mutating func merge(_ other: Presence) {
        // Another node's count, whatever it says, neither traps nor lowers this one.
        let (sum, overflow) = connectedCount.addingReportingOverflow(max(other.connectedCount, 0))
        connectedCount = overflow ? .max : sum
        connected.formUnion(other.connected)
        lastActivity.merge(other.lastActivity) { max($0, $1) }
    }
}

/// Where presence is asked of the other nodes of a cluster (WardenCluster installs one).
public protocol PresenceRelay: Sendable {
    /// What the other nodes that answer in time know of `tenantID` and `deviceIDs` (and of its connections in all,
    /// when `countingTenant`), merged.
    func elsewhere(in tenantID: TenantID, of deviceIDs: [String], countingTenant: Bool) async -> Presence
}
