public import Foundation
import Synchronization
public import WardenCore
import WardenMQTT
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
                topics: (profile?.topics).map { $0.map(\.topic).sorted() } ?? [],
                messageRate: profile.flatMap { $0.samples > 0 ? $0.rate.mean : nil },
                averagePayload: profile.flatMap { $0.payloadSamples > 0 ? $0.payload.mean : nil },
                quarantine: levels["\(tenantID)/\(device.id)"])
        }
    }
}

/// What one device sent over the HTTPS device API and AMQP since its last sample (MQTT connections keep their
/// own).
struct RequestTally {
    let tenantID: TenantID
    let deviceID: DeviceID
    let since: Date
    var messages = 0
    var bytes = 0
    var largestPayload = 0
    var topics: [String] = []
    var moreTopics = false
    /// The last topic as it came: devices mostly send to one, which then costs one comparison.
    var lastTopic = TopicKey("")

    mutating func count(topic: String, bytes size: Int) {
        messages &+= 1
        bytes &+= size
        largestPayload = max(largestPayload, size)
        guard TopicKey(topic) != lastTopic else { return }
        lastTopic = TopicKey(topic)
        let key = DeviceActivity.topicKey(topic)
        guard !topics.contains(where: { TopicKey($0) == TopicKey(key) }) else { return }
        if topics.count < DeviceActivity.maximumTopics { topics.append(key) } else { moreTopics = true }
    }

    func sample(at now: Date) -> DeviceActivity {
        DeviceActivity(
            tenantID: tenantID, deviceID: deviceID, seconds: now.timeIntervalSince(since), messages: messages,
            bytes: bytes, largestPayload: largestPayload, topics: topics, moreTopics: moreTopics, at: now)
    }
}

extension DefenderService {
    /// Counts HTTPS telemetry for the device's baseline, sampled with its interval (an interval without any
    /// request makes no sample: an HTTPS device's baseline is of the intervals it was active in).
    public func deviceSent(_ deviceID: DeviceID, in tenantID: TenantID, topic: String, bytes: Int) {
        guard settings.sampleInterval > 0 else { return }
        let key = DeviceKey(tenantID: tenantID, deviceID: deviceID)
        let now = clock.now()
        let kept = requestTallies.withLock { tallies in
            if tallies[key] == nil {
                guard tallies.count < settings.maximumProfiles else { return false }
                tallies[key] = RequestTally(tenantID: tenantID, deviceID: deviceID, since: now)
            }
            tallies[key]?.count(topic: topic, bytes: bytes)
            return true
        }
        if !kept { Self.forgotten("requests", 1) }
    }

    /// Hands the tallies at least one interval old to the rules as samples.
    func sampleRequests(at now: Date) {
        let due = requestTallies.withLock { tallies in
            let due = tallies.filter { now.timeIntervalSince($0.value.since) >= settings.sampleInterval }
            for key in due.keys { tallies.removeValue(forKey: key) }
            return Array(due.values)
        }
        for tally in due { activity(tally.sample(at: now)) }
    }
}
