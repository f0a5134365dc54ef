import Foundation
import WardenCore

/// A device in its tenant, as a dictionary key.
struct DeviceKey: Hashable {
    let tenantID: TenantID
    let deviceID: DeviceID
}

/// The bans in force, indexed for the connection path: client ids and devices by dictionary, addresses as a
/// list of blocks (scanned; a block's mask is applied byte by byte without allocating).
struct BanIndex {
    private(set) var byID: [String: Ban] = [:]
    private var clientIDs: [String: [Ban]] = [:]
    private var devices: [DeviceKey: [Ban]] = [:]
    private var addresses: [Ban] = []

    var count: Int { byID.count }

    mutating func add(_ ban: Ban) {
        remove(ban.id)
        byID[ban.id] = ban
        switch ban.subject {
        case .address: addresses.append(ban)
        case .clientID(let id): clientIDs[id, default: []].append(ban)
        case .device(let tenantID, let deviceID):
            devices[DeviceKey(tenantID: tenantID, deviceID: deviceID), default: []].append(ban)
        }
    }

    mutating func remove(_ id: String) {
        guard let ban = byID.removeValue(forKey: id) else { return }
        switch ban.subject {
        case .address: addresses.removeAll { $0.id == id }
        case .clientID(let clientID): clientIDs[clientID]?.removeAll { $0.id == id }
        case .device(let tenantID, let deviceID):
            devices[DeviceKey(tenantID: tenantID, deviceID: deviceID)]?.removeAll { $0.id == id }
        }
    }

    /// The first ban in force at `now` that refuses `address`, `clientID` or the device.
    func ban(of address: IPAddress, at now: Date) -> Ban? {
        addresses.first { ban in
            guard ban.isActive(at: now), case .address(let range) = ban.subject else { return false }
            return range.contains(address)
        }
    }

    func ban(ofClientID clientID: String, at now: Date) -> Ban? {
        clientIDs[clientID]?.first { $0.isActive(at: now) }
    }

    func ban(of deviceID: DeviceID, in tenantID: TenantID, at now: Date) -> Ban? {
        devices[DeviceKey(tenantID: tenantID, deviceID: deviceID)]?.first { $0.isActive(at: now) }
    }
}

/// How many events a source made within its window, estimated from two fixed windows (the current one, and the
/// one before weighted by how much of it the sliding window still covers): two numbers per source, whatever
/// the threshold.
struct WindowCount {
    private var start: Date
    private var current = 0
    private var previous = 0
    /// The window it counts in (its rule's, for its tenant), so that it is judged idle by its own.
    private(set) var window: TimeInterval
    /// The count that fires its rule (its rule's, for its tenant), so that it is shared once it nears it.
    private(set) var threshold: Int

    init(at now: Date, window: TimeInterval, threshold: Int) {
        start = now
        self.window = window
        self.threshold = threshold
    }

    /// Counts one event at `now` in `window` (a tenant's rules may have changed it and `threshold`); returns the
    /// estimate for the window ending at `now`.
    mutating func add(at now: Date, window: TimeInterval, threshold: Int) -> Double {
        self.window = window
        self.threshold = threshold
        let elapsed = now.timeIntervalSince(start)
        if elapsed >= 2 * window {
            (start, previous, current) = (now, 0, 0)
        } else if elapsed >= window {
            (start, previous, current) = (start.addingTimeInterval(window), current, 0)
        }
        current += 1
        return estimate(at: now)
    }

    /// The estimate for the window ending at `now`, counting nothing more: the current fixed window's events and
    /// the part of the previous one's that the sliding window still covers.
    func estimate(at now: Date) -> Double {
        let elapsed = now.timeIntervalSince(start)
        if elapsed >= 2 * window { return 0 }
        if elapsed >= window {
            return Double(current) * max(0, 1 - (elapsed - window) / window)
        }
        return Double(previous) * max(0, 1 - elapsed / window) + Double(current)
    }

    /// Whether it has counted nothing for two of its windows: its estimate is nothing, and it may be dropped.
    func isIdle(at now: Date) -> Bool { now.timeIntervalSince(start) >= 2 * window }

    /// When the source last started a window (for dropping the idlest first).
    var lastWindowStart: Date { start }
}
