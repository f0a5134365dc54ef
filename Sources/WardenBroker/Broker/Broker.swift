import CoreMetrics
import Foundation
public import NIOCore
import Synchronization
import WardenAuthentication
public import WardenCore
import WardenMQTT
import WardenStore

/// The shared heart of the MQTT service: sessions by (tenant, ClientId), each tenant's topic space, and
/// routing between them. This file holds the table and what reads it; sessions come and go in
/// `Broker+Sessions.swift` (their Wills and expiries on `SessionTimers`), subscriptions in
/// `Broker+Subscriptions.swift`, messages in `Broker+Routing.swift`. Every method is synchronous and short; the lock is held only for table work, never
/// while writing to a connection (lock order: broker, then session).
public final class Broker: Sendable {
    /// Broker-wide limits (docs/configuration.md, `mqtt.*`).
    public struct Configuration: Sendable {
        /// QoS 1/2 messages unacknowledged per session at once (the client's Receive Maximum may lower it).
        public var maximumInflight = 100
        /// Messages queued per session behind the inflight window.
        public var maximumQueuedMessages = 1000
        /// Payload and topic bytes queued per session.
        public var maximumQueuedBytes = 16 * 1024 * 1024
        /// The longest a session outlives its connection, in seconds; 3.1.1 persistent sessions get this.
        public var maximumSessionExpiry: UInt32 = 7 * 86_400
        /// Subscriptions one session may hold.
        public var maximumSubscriptionsPerSession = 100
        /// Retained topics one tenant may hold.
        public var maximumRetainedPerTenant = 10_000
        /// Topic and payload bytes of the retained messages one tenant may hold.
        public var maximumRetainedBytesPerTenant = 64 * 1024 * 1024
        /// Authenticated connections at once, all listeners together.
        public var maximumConnections = 100_000
        /// How much later than a PUBLISH a SUBSCRIBE on another connection may be read and still receive it
        /// (`RecentMessages`); zero turns this off.
        public var lateSubscriptionWindow = TimeAmount.milliseconds(1)
        /// Payload and topic bytes per tenant kept for such subscriptions.
        public var lateSubscriptionBytes = 64 * 1024

        public init() {}

        var flowLimits: OutboundFlow.Limits {
            OutboundFlow.Limits(
                maximumInflight: maximumInflight, maximumQueuedMessages: maximumQueuedMessages,
                maximumQueuedBytes: maximumQueuedBytes)
        }
    }

    /// A Will Message waiting for its connection to end.
    struct Will: Sendable {
        let message: BrokerMessage
        let tenantID: TenantID
        /// Seconds after the connection ends (5.0 Will Delay Interval).
        let delay: UInt32
        /// The device whose Will it is (the hub turns it into telemetry); nil for services and anonymous clients.
        var sender: DeviceSender? = nil
    }

    /// The session a CONNECT was given.
    struct Attachment {
        let session: Session
        let sessionPresent: Bool
        /// The resumed window and queued messages to send after CONNACK.
        let resend: [MQTTPacket]
    }

    /// One filter of a SUBSCRIBE, after authorization.
    struct SubscribeRequest {
        let filter: TopicFilter
        let options: SubscriptionOptions
        let retainHandling: SubscribePacket.Subscription.RetainHandling
    }

    struct State {
        var sessions: [SessionKey: Session] = [:]
        var spaces: [TenantID: TopicSpace] = [:]
        /// Sessions subscribed to each plain filter, per tenant: what other nodes route to this one.
        var interest: [TenantID: [TopicKey: Int]] = [:]
        /// Sessions in each shared group, per tenant.
        var groupInterest: [TenantID: [SharedGroup: Int]] = [:]
        var cluster: (any ClusterLink)?
        var handover: (any SessionHandover)?
        /// Stamps retained messages published here, with `node`: the cluster's identity of this node (zero alone).
        var retainClock = RetainClock()
        var node = UUID.zero
    }

    let configuration: Configuration
    let metrics: BrokerMetrics
    /// Where durable state goes; nil keeps everything in memory (tests).
    let persistence: BrokerPersistence?
    /// Runs Will delays and session expiries.
    let timers: SessionTimers
    /// The session table and the tenants' topic spaces, under one lock (subscribing touches both).
    let state = Mutex(State())
    let connectionCount = Atomic<Int>(0)
    /// Set once at start-up, after the hub that needs this broker exists.
    let deviceTraffic = Mutex<(any DeviceTrafficHandler)?>(nil)
    let provisioningGateway = Mutex<(any ProvisioningGateway)?>(nil)

    /// The policy's `receive` check for every routed delivery; nil: every subscriber receives what it
    /// subscribed to (tests of the broker alone).
    let receiveCheck: ReceiveCheck?

    public init(
        configuration: Configuration, timers: any EventLoop, persistence: BrokerPersistence? = nil,
        receiveCheck: ReceiveCheck? = nil
    ) {
        self.configuration = configuration
        self.timers = SessionTimers(loop: timers)
        self.metrics = BrokerMetrics()
        self.persistence = persistence
        self.receiveCheck = receiveCheck
    }

    /// Answers DPS connections (their CONNECT, their requests) with `gateway`.
    public func install(provisioning gateway: any ProvisioningGateway) {
        provisioningGateway.withLock { $0 = gateway }
    }

    /// The provisioning gateway, when one is installed.
    var provisioning: (any ProvisioningGateway)? { provisioningGateway.withLock { $0 } }

    /// Hands every device PUBLISH and Will to `handler` before routing.
    public func install(_ handler: any DeviceTrafficHandler) {
        deviceTraffic.withLock { $0 = handler }
    }

    /// Tells the hub that a device's connection is ready (CONNACK sent, or a SUBSCRIBE answered).
    func deviceReady(_ sender: DeviceSender) {
        deviceTraffic.withLock { $0 }?.deviceReady(sender)
    }

    /// Tells the hub that a device's connection ended.
    func deviceGone(_ sender: DeviceSender) {
        deviceTraffic.withLock { $0 }?.deviceGone(sender)
    }

    /// The client ids with a connected session in `tenantID` now (devices use their device id). A walk over
    /// the session table: for pages and reports, not the packet path.
    public func connectedClientIDs(in tenantID: TenantID) -> Set<String> {
        let sessions = state.withLock { state in state.sessions.filter { $0.key.tenantID == tenantID } }
        return Set(sessions.compactMap { key, session in session.withState { $0.sink != nil } ? key.clientID : nil })
    }

    /// Which of `clientIDs` have a connected session in `tenantID` now: a lookup each, for a page of devices.
    public func connected(_ clientIDs: [String], in tenantID: TenantID) -> Set<String> {
        let sessions = state.withLock { state in
            clientIDs.compactMap { state.sessions[SessionKey(tenantID: tenantID, clientID: $0)] }
        }
        return Set(sessions.compactMap { session in session.withState { $0.sink != nil } ? session.key.clientID : nil })
    }

    /// Counts a new authenticated connection; false when `maximumConnections` is reached.
    func admitConnection() -> Bool {
        let count = connectionCount.wrappingAdd(1, ordering: .relaxed).newValue
        guard count <= configuration.maximumConnections else {
            connectionCount.wrappingSubtract(1, ordering: .relaxed)
            metrics.hit(.connections)
            return false
        }
        metrics.connections.record(count)
        return true
    }

    /// A retained message or clear from the store (start-up, or a node of a cluster reading the store again),
    /// unless the topic holds a later one; later messages published here are stamped after it. One stamped more
    /// than a day ahead of this node's clock (a node's broken clock) is left out: followed, it would stamp every
    /// later message here so far ahead that the other nodes refuse them. False when left out so.
    @discardableResult
    func restoreRetained(_ message: BrokerMessage, stamp: RetainStamp, in tenantID: TenantID) -> Bool {
        guard stamp.time <= Date().unixMicroseconds &+ RetainStamp.maximumLead else { return false }
        state.withLock { state in
            state.retainClock.observe(stamp.time)
            var stamp = stamp
            _ = state.spaces[tenantID, default: TopicSpace()].retain(
                message, stamp: &stamp, isLocal: false, limit: .none,
                keptClears: state.cluster == nil ? nil : configuration.maximumRetainedPerTenant)
        }
        return true
    }

    /// The session a live connection of `key` holds, for revocation.
    func session(_ key: SessionKey) -> Session? {
        state.withLock { $0.sessions[key] }
    }

    /// Per tenant with sessions: the figures `$SYS/broker/…` reports.
    func tenantFigures() -> [TenantID: TenantFigures] {
        state.withLock { state in
            var figures: [TenantID: TenantFigures] = [:]
            for session in state.sessions.values {
                let tenantID = session.key.tenantID
                if figures[tenantID] == nil { figures[tenantID] = state.spaces[tenantID]?.figures ?? .init() }
                figures[tenantID]?.sessions += 1
                if session.sink != nil { figures[tenantID]?.connected += 1 }
            }
            return figures
        }
    }

    /// Every session of `tenantID` with a live connection.
    /// The tenants that have sessions.
    func tenantsWithSessions() -> Set<TenantID> {
        state.withLock { Set($0.sessions.keys.map(\.tenantID)) }
    }

    /// The devices of `tenantID` connected now with a certificate Warden issued, and its serial (the
    /// Defender's audit looks for revoked ones still in use).
    public func connectedCertificates(in tenantID: TenantID) -> [(DeviceID, CertificateSerial)] {
        connectedSessions(in: tenantID).compactMap { session in
            guard let device = session.sink?.device, let serial = device.certificate else { return nil }
            return (device.deviceID, serial)
        }
    }

    func connectedSessions(in tenantID: TenantID) -> [Session] {
        let sessions = state.withLock { state in state.sessions.values.filter { $0.key.tenantID == tenantID } }
        return sessions.filter { $0.sink != nil }
    }
}
