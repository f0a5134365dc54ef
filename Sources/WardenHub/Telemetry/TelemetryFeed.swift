public import Logging
import Metrics
public import ServiceLifecycle
import Synchronization
public import WardenCore
public import WardenStore

/// What carries the live feed between nodes (`ClusterFeed`): told when a device gains its first follower here
/// or loses its last, and which devices a batch committed here had telemetry of.
public protocol TelemetryFeedLink: Sendable {
    /// Whether some other node follows any device now: a batch is looked at only then.
    var isWanted: Bool { get }
    func following(_ tenantID: TenantID, _ deviceID: DeviceID, isStarted: Bool)
    /// Telemetry of these devices committed on this node.
    func committed(_ devices: Set<TelemetryFeed.Device>)
}

/// Committed telemetry, live, for the API's server-sent events: the broker's writer tells it each committed
/// batch, and it hands each message to the followers of its device. Each follower has a bounded buffer; a
/// follower too slow to keep up loses the oldest messages (counted) and can catch up from the store by
/// sequence number. On a node of a cluster a `TelemetryFeedLink` says when another node committed telemetry of
/// a device followed here, and the feed reads what is new from the store. As a service, it ends every follow
/// when the server shuts down, so that open event streams finish instead of holding the HTTP server open.
public final class TelemetryFeed: Service, Sendable {
    /// Messages buffered per follower.
    public static let followerBuffer = 1000
    /// Stored messages read per query after another node's notice.
    static let readBatch = 500

    public struct Device: Hashable, Sendable {
        public let tenantID: TenantID
        public let deviceID: DeviceID

        public init(tenantID: TenantID, deviceID: DeviceID) {
            self.tenantID = tenantID
            self.deviceID = deviceID
        }
    }

    /// The followers of one device, and what they were given.
    private struct Followed {
        var followers: [UInt64: AsyncStream<TelemetryMessage>.Continuation] = [:]
        /// When the first follower came (Unix milliseconds): another node's messages are read from then on.
        let since: Int64
        /// The highest sequence number read from the store, or forgotten from `recent`: reads start after it.
        var read: Int64 = .min
        /// The latest messages committed here (`recentLimit`, oldest at `next` once full), which a read of the
        /// store meets again.
        var recent = Set<Int64>()
        var recentOrder: [Int64] = []
        var next = 0
        var isReading = false
        var readsAgain = false

        /// Remembers a message committed here; the oldest one forgotten moves the read cursor past it, so that a
        /// read never hands out again what was handed out long ago.
        mutating func remember(_ sequence: Int64) {
            guard recent.insert(sequence).inserted else { return }
            guard recentOrder.count == TelemetryFeed.recentLimit else { return recentOrder.append(sequence) }
            let forgotten = recentOrder[next]
            recent.remove(forgotten)
            read = max(read, forgotten)
            recentOrder[next] = sequence
            next = (next + 1) % TelemetryFeed.recentLimit
        }
    }

    /// Messages committed here remembered per followed device, so that a read of the store after another
    /// node's notice does not hand them out again.
    static let recentLimit = 4096

    private struct Link {
        let link: any TelemetryFeedLink
        let store: any TelemetryStore
        let logger: Logger
    }

    private let followed = Mutex<[Device: Followed]>([:])
    private let nextID = Atomic<UInt64>(0)
    private let link = Mutex<Link?>(nil)
    private let dropped = Counter(label: "warden_telemetry_feed_dropped_total")
    private let clock: any WardenClock

    public init(clock: any WardenClock = SystemClock()) {
        self.clock = clock
    }

    /// Carries the feed between nodes through `link`; messages committed elsewhere are read from `store`.
    public func install(link: any TelemetryFeedLink, store: any TelemetryStore, logger: Logger) {
        self.link.withLock { $0 = Link(link: link, store: store, logger: logger) }
    }

    public func run() async throws {
        try? await gracefulShutdown()
        let ending = followed.withLock { followed in
            defer { followed = [:] }
            return followed.values.flatMap(\.followers.values)
        }
        for continuation in ending { continuation.finish() }
    }

    /// Hands the telemetry in a committed batch to its followers, and tells the link which devices it had.
    public func committed(_ changes: [DeviceStateChange]) {
        let link = link.withLock { $0?.link }
        let isWanted = link?.isWanted ?? false
        var devices: Set<Device> = []
        followed.withLock { followed in
            guard !followed.isEmpty || isWanted else { return }
            for change in changes {
                guard case .appendTelemetry(let message) = change else { continue }
                let device = Device(tenantID: message.tenantID, deviceID: message.deviceID)
                if isWanted { devices.insert(device) }
                guard var entry = followed[device] else { continue }
                if link != nil { entry.remember(message.sequenceNumber) }
                hand(message, to: entry)
                followed[device] = entry
            }
        }
        if !devices.isEmpty { link?.committed(devices) }
    }

    /// Another node committed telemetry of `device`: what the store holds after the last message read from it
    /// (and since the first follower came), but for what was committed here, is handed out. One read at a time
    /// per device; a notice during a read makes it read again.
    public func otherNodeCommitted(_ tenantID: TenantID, _ deviceID: DeviceID) {
        let device = Device(tenantID: tenantID, deviceID: deviceID)
        guard let link = link.withLock({ $0 }) else { return }
        let starts = followed.withLock { followed -> Bool in
            guard followed[device] != nil else { return false }
            if followed[device]?.isReading == true {
                followed[device]?.readsAgain = true
                return false
            }
            followed[device]?.isReading = true
            return true
        }
        guard starts else { return }
        Task { await self.read(device, from: link) }
    }

    private func read(_ device: Device, from link: Link) async {
        while true {
            guard let (since, last) = followed.withLock({ $0[device].map { ($0.since, $0.read) } }) else { return }
            let batch: [TelemetryMessage]
            do {
                batch = try await link.store.telemetry(
                    device.tenantID, device.deviceID, from: since, to: .max, afterSequence: last,
                    limit: Self.readBatch)
            } catch {
                link.logger.warning(
                    "Could not read another node's telemetry for the live feed", metadata: ["error": "\(error)"])
                batch = []
            }
            let again = followed.withLock { followed -> Bool in
                guard var entry = followed[device] else { return false }
                for message in batch where message.sequenceNumber > entry.read {
                    entry.read = message.sequenceNumber
                    if !entry.recent.contains(message.sequenceNumber) { hand(message, to: entry) }
                }
                entry.isReading = batch.count == Self.readBatch || entry.readsAgain
                entry.readsAgain = false
                followed[device] = entry
                return entry.isReading
            }
            if !again { return }
        }
    }

    /// Gives `message` to every follower of `entry`.
    private func hand(_ message: TelemetryMessage, to entry: Followed) {
        for continuation in entry.followers.values {
            if case .dropped = continuation.yield(message) { dropped.increment() }
        }
    }

    /// Whether `device` has followers here now.
    public func isFollowed(_ device: Device) -> Bool {
        followed.withLock { $0[device] != nil }
    }

    /// New telemetry of one device as it commits, until the stream's consumer stops.
    public func follow(_ tenantID: TenantID, _ deviceID: DeviceID) -> AsyncStream<TelemetryMessage> {
        let device = Device(tenantID: tenantID, deviceID: deviceID)
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream.makeStream(
            of: TelemetryMessage.self, bufferingPolicy: .bufferingNewest(Self.followerBuffer))
        continuation.onTermination = { [weak self] _ in self?.stop(id, of: device) }
        let isFirst = followed.withLock { followed in
            let isFirst = followed[device] == nil
            if isFirst { followed[device] = Followed(since: clock.nowMilliseconds()) }
            followed[device]?.followers[id] = continuation
            return isFirst
        }
        if isFirst { link.withLock { $0?.link }?.following(tenantID, deviceID, isStarted: true) }
        return stream
    }

    private func stop(_ id: UInt64, of device: Device) {
        let isLast = followed.withLock { followed in
            guard followed[device]?.followers.removeValue(forKey: id) != nil,
                followed[device]?.followers.isEmpty == true
            else { return false }
            followed[device] = nil
            return true
        }
        if isLast { link.withLock { $0?.link }?.following(device.tenantID, device.deviceID, isStarted: false) }
    }
}
