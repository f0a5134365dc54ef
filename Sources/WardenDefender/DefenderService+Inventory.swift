public import Foundation
import Synchronization
public import WardenCore
import WardenStore

/// One device in the inventory (issue 16, "Identify"): how it authenticates, when and how it last connected,
/// and its data flows as the Defender learned them.
public struct InventoryEntry: Sendable {
    public let device: Device
    /// Its last accepted connection (nil: never connected since the inventory began).
    public let lastConnection: DeviceConnection?
    /// Its learned flows: the topics it used (property bags left out) and its mean rate and payload size;
    /// empty and nil until it published.
    public let topics: [String]
    public let messageRate: Double?
    public let averagePayload: Double?
    /// Its quarantine level, if quarantined.
    public let quarantine: String?
}

extension DefenderService {
    /// Most unsaved connections kept; past it, new devices' connections wait for the next write.
    static var maximumUnsavedSightings: Int { 100_000 }

    /// Keeps a device's connection for the inventory (written to the store every 10 seconds).
    public func connected(_ connection: DeviceConnection) {
        let key = "\(connection.tenantID)/\(connection.deviceID)"
        let kept = unsavedSightings.withLock { unsaved in
            guard unsaved[key] != nil || unsaved.count < Self.maximumUnsavedSightings else { return false }
            unsaved[key] = connection
            return true
        }
        if !kept { Self.forgotten("sightings", 1) }
    }

    /// Writes the connections seen since the last write; on failure they wait for the next one.
    func saveSightings() async {
        let batch = unsavedSightings.withLock { unsaved in
            defer { unsaved.removeAll() }
            return Array(unsaved.values)
        }
        guard !batch.isEmpty else { return }
        do {
            try await store.saveSightings(batch)
        } catch {
            unsavedSightings.withLock { unsaved in
                for connection in batch where unsaved.count < Self.maximumUnsavedSightings {
                    let key = "\(connection.tenantID)/\(connection.deviceID)"
                    if unsaved[key] == nil { unsaved[key] = connection }
                }
            }
        }
    }

    /// The inventory of `devices` (of one tenant, a page of at most 1,000): the store's connections with those
    /// not yet written, and what each device's profile learned.
    public func inventory(of devices: [Device], in tenantID: TenantID) async throws -> [InventoryEntry] {
        var connections = Dictionary(
            try await store.sightings(of: devices.map(\.id), in: tenantID).map { ($0.deviceID, $0) },
            uniquingKeysWith: { $1 })
        unsavedSightings.withLock { unsaved in
            for connection in unsaved.values where connection.tenantID == tenantID {
                connections[connection.deviceID] = connection
            }
        }
        let learned = profiles.withLock { profiles in
            devices.map { profiles["\(tenantID)/\($0.id)"] }
        }
        let levels = quarantined.withLock { $0 }
        return zip(devices, learned).map { device, profile in
            InventoryEntry(
                device: device, lastConnection: connections[device.id],
                topics: (profile?.topics).map { $0.sorted() } ?? [],
                messageRate: profile.flatMap { $0.samples > 0 ? $0.rate.mean : nil },
                averagePayload: profile.flatMap { $0.payloadSamples > 0 ? $0.payload.mean : nil },
                quarantine: levels["\(tenantID)/\(device.id)"])
        }
    }
}
