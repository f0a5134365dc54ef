import CoreMetrics
public import Foundation
public import Logging
public import NIOCore
import Synchronization
public import WardenCore
public import WardenHub
public import WardenNATS
public import WardenStore

/// The live telemetry feed across nodes (docs/architecture.md, "Several nodes"). A node whose feed has
/// followers of a device says so on `warden.feed.interest` (at once and every `renewal` while they last) and
/// listens on the device's feed subject; a node that commits telemetry of a device another node follows sends a
/// notice there, and the followers' node reads what is new from the store. Nothing is sent while no node
/// follows, and a notice carries no telemetry: only the sending node's identity, so that a node ignores its own.
public final class ClusterFeed: TelemetryFeedLink {
    /// How often a node repeats what it follows, and how long another node believes it.
    static let renewal = TimeAmount.seconds(5)
    static let lifetime = TimeAmount.seconds(15)
    /// Devices followed across the cluster that a node keeps track of; more are not announced to it (counted).
    static let maximumInterests = 10_000

    private let node: UUID
    private let nats: NATSClient
    private let feed: TelemetryFeed
    private let logger: Logger
    private let state = Mutex(State())
    private let unreadable = Counter(label: "warden_cluster_feed_unreadable_total")
    private let refused = Counter(label: "warden_cluster_feed_interests_refused_total")

    private struct State {
        /// Feed subjects other nodes follow, until when.
        var interests: [String: NIODeadline] = [:]
        /// This node's NATS subscription for each device followed here.
        var subscriptions: [TelemetryFeed.Device: UInt64] = [:]
        var renewal: RepeatedTask?
    }

    /// One node's announcement: its identity (16 bytes) and a feed subject.
    public struct Interest: Equatable, Sendable {
        public let origin: UUID
        public let subject: String

        public init(origin: UUID, subject: String) {
            self.origin = origin
            self.subject = subject
        }

        /// Nil for anything but 16 bytes of identity and a feed subject (UTF-8, at most
        /// `ClusterSubject.maximumBytes`).
        public init?(decoding buffer: ByteBuffer) {
            var buffer = buffer
            guard buffer.readableBytes > 16, buffer.readableBytes <= 16 + ClusterSubject.maximumBytes,
                let bytes = buffer.readBytes(length: 16),
                let text = buffer.readBytes(length: buffer.readableBytes),
                let subject = String(validating: text, as: UTF8.self),
                subject.hasPrefix(ClusterSubject.feedPrefix)
            else { return nil }
            origin = bytes.withUnsafeBytes { UUID(uuid: $0.load(as: uuid_t.self)) }
            self.subject = subject
        }

        public var encoded: ByteBuffer {
            var buffer = ByteBuffer()
            withUnsafeBytes(of: origin.uuid) { buffer.writeBytes($0) }
            buffer.writeString(subject)
            return buffer
        }
    }

    public init(node: UUID, nats: NATSClient, feed: TelemetryFeed, logger: Logger) {
        self.node = node
        self.nats = nats
        self.feed = feed
        self.logger = logger
    }

    /// Takes other nodes' announcements and repeats this node's on `loop` until `stop`.
    public func start(store: any TelemetryStore, on loop: any EventLoop) {
        nats.subscribe(ClusterSubject.feedInterest) { [weak self] message in self?.heard(message.payload) }
        let task = loop.scheduleRepeatedTask(initialDelay: Self.renewal, delay: Self.renewal) { [weak self] _ in
            self?.renew()
        }
        state.withLock { $0.renewal = task }
        feed.install(link: self, store: store, logger: logger)
    }

    public func stop() {
        state.withLock { $0.renewal }?.cancel()
    }

    public var isWanted: Bool {
        state.withLock { !$0.interests.isEmpty }
    }

    /// Starts and stops may arrive in another order than they happened (from different threads): the feed's
    /// followers as they are now decide, not `isStarted`.
    public func following(_ tenantID: TenantID, _ deviceID: DeviceID, isStarted: Bool) {
        let device = TelemetryFeed.Device(tenantID: tenantID, deviceID: deviceID)
        let subject = ClusterSubject.feed(tenantID, deviceID)
        let (isSubscribed, ended) = state.withLock { state -> (Bool, UInt64?) in
            let isFollowed = feed.isFollowed(device)
            if isFollowed, state.subscriptions[device] == nil {
                let sid = nats.subscribe(subject) { [weak self] message in
                    self?.noticed(message.payload, tenantID, deviceID)
                }
                state.subscriptions[device] = sid
                return (sid != nil, nil)
            }
            return (false, isFollowed ? nil : state.subscriptions.removeValue(forKey: device))
        }
        if isSubscribed { announce(subject) }
        if let ended { nats.unsubscribe(ended) }
    }

    public func committed(_ devices: Set<TelemetryFeed.Device>) {
        let now = NIODeadline.now()
        let wanted = state.withLock { state in
            devices.map { ClusterSubject.feed($0.tenantID, $0.deviceID) }.filter { subject in
                guard let until = state.interests[subject] else { return false }
                return until > now
            }
        }
        guard !wanted.isEmpty else { return }
        var notice = ByteBuffer()
        withUnsafeBytes(of: node.uuid) { notice.writeBytes($0) }
        for subject in wanted { nats.publish(subject, payload: notice) }
    }

    private func noticed(_ payload: ByteBuffer, _ tenantID: TenantID, _ deviceID: DeviceID) {
        guard payload.readableBytes == 16, let origin = payload.getBytes(at: payload.readerIndex, length: 16),
            origin.withUnsafeBytes({ UUID(uuid: $0.load(as: uuid_t.self)) }) != node
        else { return }
        feed.otherNodeCommitted(tenantID, deviceID)
    }

    private func heard(_ payload: ByteBuffer) {
        guard let interest = Interest(decoding: payload) else {
            unreadable.increment()
            return
        }
        guard interest.origin != node else { return }
        let until = NIODeadline.now() + Self.lifetime
        let isRefused = state.withLock { state in
            guard state.interests[interest.subject] != nil || state.interests.count < Self.maximumInterests else {
                return true
            }
            state.interests[interest.subject] = until
            return false
        }
        if isRefused { refused.increment() }
    }

    private func announce(_ subject: String) {
        nats.publish(ClusterSubject.feedInterest, payload: Interest(origin: node, subject: subject).encoded)
    }

    /// Repeats what this node follows, and forgets what other nodes stopped repeating.
    private func renew() {
        let now = NIODeadline.now()
        let devices = state.withLock { state in
            state.interests = state.interests.filter { $0.value > now }
            return Array(state.subscriptions.keys)
        }
        for device in devices { announce(ClusterSubject.feed(device.tenantID, device.deviceID)) }
    }
}
