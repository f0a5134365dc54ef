import Foundation
import NIOCore
import Synchronization
public import WardenAzure
public import WardenBroker
public import WardenCore
import WardenMQTT
public import WardenPolicy
public import WardenStore

/// Device twins (anchors.md §1.3): the device reads its twin (`$iothub/twin/GET/?$rid=`) and patches its
/// reported properties (`$iothub/twin/PATCH/properties/reported/?$rid=`, a JSON merge patch where `null`
/// deletes), answered on `$iothub/twin/res/{status}/?$rid=` once committed; the API reads the twin and patches
/// desired properties (with If-Match on the desired version), which a connected device hears on
/// `$iothub/twin/PATCH/properties/desired/?$version=`. Twins are held in memory; reported properties (only the
/// device's own connection changes them) are written through the broker's group commit, desired properties
/// (any node's API may change them) by a write that only succeeds over the version it read
/// (`TwinStore.replaceDesired`), so two patches at once on two nodes both count.
public final class TwinService: Sendable {
    /// IoT Hub's limit for each section.
    static let maximumSectionBytes = 32 * 1024
    /// The longest `$rid` answered; the SDKs send numbers or UUIDs.
    public static let maximumRequestIDBytes = 128

    struct TwinKey: Hashable {
        let tenantID: TenantID
        let deviceID: DeviceID
    }

    /// A desired patch that loses the race for its version this often in a row is refused (`twin.busy`).
    static let maximumDesiredAttempts = 5
    /// This node's desired patches, one at a time: they race only other nodes' (so a device hears them in order).
    private let desiredWrites = SerialWrites()

    let store: any TwinStore
    let persistence: BrokerPersistence
    let broker: Broker
    let clock: any WardenClock
    /// Each device's twin link of another protocol.
    private let links = DeviceLinks<any TwinLink> { $0.superseded() }
    /// Where committed changes to reported properties are told (policy conditions read them).
    let events: EventBus?
    private let twins: Mutex<[TwinKey: DeviceTwin]>

    public init(
        store: any TwinStore, persistence: BrokerPersistence, broker: Broker, clock: any WardenClock,
        events: EventBus? = nil
    ) async throws {
        self.store = store
        self.persistence = persistence
        self.broker = broker
        self.clock = clock
        self.events = events
        let loaded = try await store.loadTwins()
        self.twins = Mutex(
            Dictionary(loaded.map { (TwinKey(tenantID: $0.tenantID, deviceID: $0.deviceID), $0) }) { _, last in last })
    }

    /// Follows device deletions: the twin goes with its device, so that a new device of the same id starts
    /// with an empty one (stored by the node that deleted the device).
    public func follow(_ bus: EventBus) {
        _ = bus.observeWithOrigin { [weak self] event, origin in
            guard let self else { return }
            switch event {
            case .deviceDeleted(let tenantID, let deviceID):
                twins.withLock { twins in
                    twins.removeValue(forKey: TwinKey(tenantID: tenantID, deviceID: deviceID))
                    // The deleting node deletes the stored twin whether or not it held it (another may have).
                    guard origin == .thisNode else { return }
                    persistence.record([.deleteTwin(tenantID: tenantID, deviceID: deviceID)])
                }
            // Another node changed the twin: this node's copy takes the stored sections, but keeps a section of
            // its own that is newer (changed here, its commit on the way), and a device connected here hears of
            // a desired patch.
            case .twinChanged(let tenantID, let deviceID, let twin, let patch) where origin == .otherNode:
                let key = TwinKey(tenantID: tenantID, deviceID: deviceID)
                twins.withLock { twins in
                    guard let twin else {
                        twins[key] = nil
                        return
                    }
                    Self.take(twin, into: &twins)
                }
                if let twin, let patch { tellDesired(patch, of: twin, to: key) }
            default:
                break
            }
        }
    }

    /// Takes a stored twin into this node's copies, but keeps a section of this node's own that is newer (changed
    /// here, its commit on the way); returns whether the stored desired section was the newer one.
    @discardableResult
    private static func take(_ stored: DeviceTwin, into twins: inout [TwinKey: DeviceTwin]) -> Bool {
        let key = TwinKey(tenantID: stored.tenantID, deviceID: stored.deviceID)
        var merged = stored
        let mine = twins[key]
        if let mine {
            if mine.desired.version > merged.desired.version { merged.desired = mine.desired }
            if mine.reported.version > merged.reported.version { merged.reported = mine.reported }
        }
        twins[key] = merged
        return stored.desired.version > mine?.desired.version ?? 0
    }

    /// Reads every twin again from `store`, for a cluster node that may have missed other nodes' notices (a
    /// deleted device's twin goes with the directory's `deviceDeleted`). A device connected here whose desired
    /// properties moved on meanwhile is told them whole, as a patch at their version (a property removed
    /// meanwhile is not named; the device's next GET shows it gone).
    public func reload(from store: any TwinStore) async throws {
        let stored = try await store.loadTwins()
        let moved = twins.withLock { twins in stored.filter { Self.take($0, into: &twins) } }
        for twin in moved {
            tellDesired(
                twin.desired.properties, of: twin, to: TwinKey(tenantID: twin.tenantID, deviceID: twin.deviceID))
        }
    }

    /// Reads one device's twin again from `store` (a session moved here from another node, whose last reported
    /// patch may have committed there after this node's copy was told), keeping a newer section of this node's.
    public func refresh(_ tenantID: TenantID, _ deviceID: DeviceID, from store: any TwinStore) async throws {
        guard let stored = try await store.twin(tenantID, deviceID) else { return }
        twins.withLock { twins in _ = Self.take(stored, into: &twins) }
    }

    /// The device's twin (empty sections at version 0 until something is set).
    public func twin(_ tenantID: TenantID, _ deviceID: DeviceID) -> DeviceTwin {
        twins.withLock { $0[TwinKey(tenantID: tenantID, deviceID: deviceID)] }
            ?? DeviceTwin(tenantID: tenantID, deviceID: deviceID)
    }

    /// Patches the desired properties (when `ifMatch` is the current desired version, if given); returns the
    /// twin once committed and tells the device if it is connected. The patch applies to the stored section, read
    /// first: another node may have moved it on without this node having heard yet; when another writer stores
    /// the next version first, the patch applies again over that one.
    public func patchDesired(
        _ tenantID: TenantID, _ deviceID: DeviceID, _ patch: [String: JSONValue], ifMatch: Int?
    ) async throws -> DeviceTwin {
        try Self.check(patch)
        return try await desiredWrites.run {
            try await self.applyDesired(patch, to: TwinKey(tenantID: tenantID, deviceID: deviceID), ifMatch: ifMatch)
        }
    }

    private func applyDesired(_ patch: [String: JSONValue], to key: TwinKey, ifMatch: Int?) async throws -> DeviceTwin {
        let (tenantID, deviceID) = (key.tenantID, key.deviceID)
        // A twin deleted here (with its device) is deleted in the group commit: the patch reads after it.
        await persistence.committedSoFar()
        for attempt in 0..<Self.maximumDesiredAttempts {
            // Another node's patch took the version: a pause that grows, random so that two nodes part.
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(Int.random(in: 1...(2 << attempt)))) }
            let stored = try await store.twin(tenantID, deviceID)
            var twin = twins.withLock { twins in
                if let stored { Self.take(stored, into: &twins) }
                return twins[key] ?? DeviceTwin(tenantID: tenantID, deviceID: deviceID)
            }
            let base = stored?.desired ?? DeviceTwin.Section()
            if let ifMatch, ifMatch != base.version {
                throw WardenError(
                    .twinVersionMismatch,
                    "If-Match is \(ifMatch) but the desired properties are at version \(base.version).")
            }
            var desired = base
            desired.apply(patch, at: clock.nowMilliseconds())
            try Self.checkSize(desired.properties, "desired")
            twin.desired = desired
            guard try await replaceDesired(of: twin, ifAt: base.version) else { continue }
            twins.withLock { twins in _ = Self.take(twin, into: &twins) }
            events?.publish(.twinChanged(tenantID, deviceID, twin: twin, desiredPatch: patch))
            tellDesired(patch, of: twin, to: key)
            return twin
        }
        throw WardenError(
            .twinBusy,
            "The desired properties of '\(deviceID)' changed \(Self.maximumDesiredAttempts) times while this patch "
                + "was applied; send it again.")
    }

    /// Stores the desired section as `TwinStore.replaceDesired` does. When the store's answer is lost (the
    /// connection to PostgreSQL broke around the commit), the stored section is read: if it is the one written
    /// (version, properties and times to the millisecond) the write went through, rather than being refused and
    /// then, sent again, counted twice.
    private func replaceDesired(of twin: DeviceTwin, ifAt version: Int) async throws -> Bool {
        do {
            return try await store.replaceDesired(of: twin, ifAt: version)
        } catch {
            guard let stored = try? await store.twin(twin.tenantID, twin.deviceID), stored.desired == twin.desired
            else { throw error }
            return true
        }
    }

    /// Tells the device, if it is connected here, what its desired properties became.
    /// (A patch from another node carries the version it made, which a later patch may have passed since.)
    private func tellDesired(_ patch: [String: JSONValue], of twin: DeviceTwin, to key: TwinKey) {
        var body = patch
        if body["$version"] == nil { body["$version"] = .number(twin.desired.version) }
        let version = if case .number(let number)? = body["$version"] { number } else { twin.desired.version }
        deliver(.twinDesiredPatch(version: version), .object(body), to: key)
    }

    /// A device's twin GET (`$iothub/twin/GET/?$rid=`): answered once everything recorded so far is committed,
    /// so the device never reads what could be lost.
    func get(_ requestID: String, from sender: DeviceSender) -> DeviceTrafficOutcome {
        let key = TwinKey(tenantID: sender.tenantID, deviceID: sender.deviceID)
        if let refusal = Self.refusal(ofRequestID: requestID) { return refusal }
        var outcome = DeviceTrafficOutcome(route: nil)
        outcome.afterCommit = { [self] in
            let current = self.twin(key.tenantID, key.deviceID)
            respond(200, requestID, Self.deviceView(current), to: key)
        }
        return outcome
    }

    /// A device's reported-properties patch (`$iothub/twin/PATCH/properties/reported/?$rid=`): answered 204 with
    /// the new version once committed, 400 when the patch is not one or would make the section too large.
    func patchReported(_ payload: ByteBuffer, _ requestID: String, from sender: DeviceSender)
        -> DeviceTrafficOutcome
    {
        let key = TwinKey(tenantID: sender.tenantID, deviceID: sender.deviceID)
        if let refusal = Self.refusal(ofRequestID: requestID) { return refusal }
        let patch: [String: JSONValue]
        do {
            patch = try Self.patch(payload.readableBytesView)
        } catch {
            respond(400, requestID, nil, to: key)
            return DeviceTrafficOutcome(route: nil)
        }
        let now = clock.nowMilliseconds()
        let twin: DeviceTwin? = twins.withLock { twins in
            var twin = twins[key] ?? DeviceTwin(tenantID: key.tenantID, deviceID: key.deviceID)
            var reported = twin.reported
            reported.apply(patch, at: now)
            guard (try? Self.checkSize(reported.properties, "reported")) != nil else { return nil }
            twin.reported = reported
            twins[key] = twin
            return twin
        }
        guard let twin else {
            respond(400, requestID, nil, to: key)
            return DeviceTrafficOutcome(route: nil)
        }
        var outcome = DeviceTrafficOutcome(changes: [.putTwin(twin, .reported)], route: nil)
        let version = twin.reported.version
        outcome.afterCommit = { [self] in
            respond(204, requestID, nil, version: version, to: key)
            events?.publish(.twinChanged(key.tenantID, key.deviceID, twin: twin, desiredPatch: nil))
            events?.publish(.twinReportedChanged(key.tenantID, key.deviceID))
        }
        return outcome
    }

    /// The answer's topic repeats the request id: a bounded one keeps it a topic MQTT can carry.
    private static func refusal(ofRequestID requestID: String) -> DeviceTrafficOutcome? {
        guard requestID.utf8.count > maximumRequestIDBytes else { return nil }
        return .refused("A twin request's $rid is longer than \(maximumRequestIDBytes) bytes.")
    }

    /// What a device's twin GET answers: each section's properties with its `$version`.
    static func deviceView(_ twin: DeviceTwin) -> JSONValue {
        var desired = twin.desired.properties
        desired["$version"] = .number(twin.desired.version)
        var reported = twin.reported.properties
        reported["$version"] = .number(twin.reported.version)
        return ["desired": .object(desired), "reported": .object(reported)]
    }

    private func respond(
        _ status: Int, _ requestID: String, _ body: JSONValue?, version: Int? = nil, to key: TwinKey
    ) {
        deliver(.twinResponse(status: status, requestID: requestID, version: version), body, to: key)
    }

    /// Attaches a device's twin link of another protocol (AMQP's): its responses and desired-property patches
    /// go there, rather than to an MQTT session of the device, until `detach`. A later link of the device
    /// takes an earlier one's place, which is told (`superseded`). Returns the attachment's number.
    public func attach(_ link: any TwinLink, tenantID: TenantID, deviceID: DeviceID) -> UInt64 {
        links.attach(link, tenantID, deviceID).number
    }

    /// Ends attachment `number`, unless a later link took its place.
    public func detach(_ number: UInt64, tenantID: TenantID, deviceID: DeviceID) {
        links.detach(number, tenantID, deviceID)
    }

    /// Hands a response or notification to the device's twin link when it is that link's (an answer to its
    /// request, a patch it asked to hear), else to its MQTT connection (dropped when it is gone or not
    /// subscribed, as IoT Hub does).
    private func deliver(_ topic: AzureTopic, _ body: JSONValue?, to key: TwinKey) {
        let bytes = body.flatMap { try? JSONEncoder().encode($0) } ?? Data()
        if let link = links.link(key.tenantID, key.deviceID)?.link, link.takes(topic) {
            link.deliver(topic, body: Array(bytes))
            return
        }
        let message = BrokerMessage(
            hubTopic: topic.name, payload: ByteBuffer(bytes: bytes), properties: Properties()
        ) {}
        _ = broker.deliver(message, toDevice: key.deviceID, in: key.tenantID)
    }

    /// A patch from outside (a device's PUBLISH, an API body): its structure is checked before it is parsed
    /// (`JSONLimits.twinPatch`), then it must be an object that `check` accepts.
    public static func patch(_ bytes: some Collection<UInt8>) throws(WardenError) -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes, limits: .twinPatch)
        } catch  where error.code == .jsonTooComplex {
            throw error
        } catch {
            throw WardenError(.twinInvalidPatch, "A twin patch is a JSON object of properties.")
        }
        guard case .object(let members) = value else {
            throw WardenError(.twinInvalidPatch, "A twin patch is a JSON object of properties.")
        }
        try check(members)
        return members
    }

    /// IoT Hub's rules for twin properties at every level: a name is 1 to 1,024 UTF-8 bytes without
    /// control characters, `.`, `$` or spaces (`$version` and `$metadata` are the hub's); a string value
    /// is at most 4 KiB. Depth is bounded before parsing, so the recursion here is too.
    public static func check(_ properties: [String: JSONValue]) throws(WardenError) {
        for (name, value) in properties {
            guard (1...1024).contains(name.utf8.count), name.unicodeScalars.allSatisfy(isAllowedInNames) else {
                throw WardenError(
                    .twinInvalidPatch,
                    "Property name '\(name.prefix(64))' must be 1 to 1,024 bytes without control characters, "
                        + "'.', '$' or spaces.")
            }
            try check(value, name)
        }
    }

    private static func check(_ value: JSONValue, _ name: String) throws(WardenError) {
        switch value {
        case .string(let text) where text.utf8.count > 4096:
            throw WardenError(.twinInvalidPatch, "Property '\(name.prefix(64))' holds a string over 4 KiB.")
        case .object(let members):
            try check(members)
        case .array(let elements):
            for element in elements { try check(element, name) }
        default:
            break
        }
    }

    private static func isAllowedInNames(_ scalar: Unicode.Scalar) -> Bool {
        !(scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || ".$ ".unicodeScalars.contains(scalar))
    }

    private static func checkSize(_ properties: [String: JSONValue], _ section: String) throws(WardenError) {
        let size = (try? JSONEncoder().encode(properties).count) ?? 0
        guard size <= maximumSectionBytes else {
            throw WardenError(
                .twinTooLarge, "The \(section) properties would be \(size) bytes; the most is \(maximumSectionBytes).")
        }
    }
}

extension TwinService: ReportedProperties {
    /// The device's reported properties (an empty object before it reports any), for policy conditions.
    public func reported(_ tenantID: TenantID, _ deviceID: DeviceID) -> JSONValue? {
        .object(twin(tenantID, deviceID).reported.properties)
    }
}

/// A device's twin channel on a protocol other than MQTT (AMQP's pair of twin links).
public protocol TwinLink: AnyObject, Sendable {
    /// Whether a response or patch is this link's: an answer to a request it sent, a desired patch it asked to
    /// hear. Others go to the device's MQTT session.
    func takes(_ topic: AzureTopic) -> Bool
    /// A response (`.twinResponse`, to the request id the device's request carried) or a desired-properties
    /// patch (`.twinDesiredPatch`), with its JSON body. Called on any thread.
    func deliver(_ topic: AzureTopic, body: [UInt8])
    /// A later link of the same device took this one's place.
    func superseded()
}
