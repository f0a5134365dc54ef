import CoreMetrics
public import NIOCore
import Synchronization
public import WardenCore
import WardenMQTT
import WardenStore

/// The shared heart of the MQTT service: sessions by (tenant, ClientId), each tenant's topic space, and
/// routing between them. Every method is synchronous and short; the lock is held only for table work, never
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
        /// Authenticated connections at once, all listeners together.
        public var maximumConnections = 100_000

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

    private struct State {
        var sessions: [SessionKey: Session] = [:]
        var spaces: [TenantID: TopicSpace] = [:]
    }

    let configuration: Configuration
    let metrics: BrokerMetrics
    /// Where durable state goes; nil keeps everything in memory (tests).
    let persistence: BrokerPersistence?
    /// Runs Will delays and session expiries.
    let timers: any EventLoop
    private let state = Mutex(State())
    private let connectionCount = Atomic<Int>(0)
    /// Set once at start-up, after the hub that needs this broker exists.
    private let deviceTraffic = Mutex<(any DeviceTrafficHandler)?>(nil)

    public init(configuration: Configuration, timers: any EventLoop, persistence: BrokerPersistence? = nil) {
        self.configuration = configuration
        self.timers = timers
        self.metrics = BrokerMetrics()
        self.persistence = persistence
    }

    /// Hands every device PUBLISH and Will to `handler` before routing.
    public func install(_ handler: any DeviceTrafficHandler) {
        deviceTraffic.withLock { $0 = handler }
    }

    /// What became of a client's message.
    struct Published {
        /// Why it was refused, if it was: the hub's reason, or the tenant's retained limit.
        var refusal: (code: ReasonCode, why: String)?
        /// Whether anything took it: a subscriber, or the hub (which stores a device's telemetry). A 5.0
        /// acknowledgement says 0x10 (No matching subscribers) otherwise.
        var wasTaken: Bool
        /// The commit that makes what it changed durable; the acknowledgement waits for it (nil: nothing to wait
        /// for).
        var ticket: UInt64?
    }

    /// Routes a device's PUBLISH through the hub, if one is installed: its changes are recorded first, then
    /// what it returns is routed.
    func publish(_ message: BrokerMessage, from sender: DeviceSender, isWill: Bool = false, now: NIODeadline)
        -> Published
    {
        guard let handler = deviceTraffic.withLock({ $0 }) else {
            return publish(message, in: sender.tenantID, now: now).published
        }
        let outcome = handler.received(message, from: sender, isWill: isWill)
        if let refusal = outcome.refusal {
            return Published(refusal: (.topicNameInvalid, refusal), wasTaken: false, ticket: nil)
        }
        let ticket = outcome.changes.isEmpty ? nil : persistence?.record(outcome.changes)
        if let afterCommit = outcome.afterCommit {
            // What was recorded before (by anyone) may still be on its way; its commit comes first.
            let after = ticket ?? persistence?.recordedCount
            if let persistence, let after { persistence.whenCommitted(after, afterCommit) } else { afterCommit() }
        }
        guard let route = outcome.route else { return Published(refusal: nil, wasTaken: true, ticket: ticket) }
        var published = publish(route, in: sender.tenantID, now: now).published
        published.wasTaken = published.wasTaken || !outcome.changes.isEmpty
        published.ticket = [published.ticket, ticket].compactMap { $0 }.max()
        return published
    }

    /// What routing one message did.
    struct Routed {
        /// False when a retained message was refused by the tenant's retained limit.
        var retainAccepted = true
        /// The sessions it was offered to.
        var matched = 0
        /// The commit that makes the stored retained message and queued copies durable; nil when none.
        var ticket: UInt64?

        mutating func include(_ ticket: UInt64?) {
            if let ticket { self.ticket = max(self.ticket ?? 0, ticket) }
        }

        var published: Published {
            Published(
                refusal: retainAccepted
                    ? nil : (.quotaExceeded, "the tenant's retained message limit is reached"),
                wasTaken: matched > 0, ticket: ticket)
        }
    }

    /// Tells the hub that a device's connection is ready (CONNACK sent, or a SUBSCRIBE answered).
    func deviceReady(_ sender: DeviceSender) {
        deviceTraffic.withLock { $0 }?.deviceReady(sender)
    }

    /// Tells the hub that a device's connection ended.
    func deviceGone(_ sender: DeviceSender) {
        deviceTraffic.withLock { $0 }?.deviceGone(sender)
    }

    /// Hands a hub message to the connected session of device `deviceID` when one of its subscriptions matches
    /// the topic, at QoS 1 at most. False when the device is not connected, not subscribed, or the session
    /// refused it (queue full): the hub keeps the message and tries again when the device is ready.
    public func deliver(_ message: BrokerMessage, toDevice deviceID: DeviceID, in tenantID: TenantID) -> Bool {
        // The hub builds these topics; each builder refuses what MQTT cannot carry, and this keeps a missed
        // case to one dropped message.
        guard message.topic.utf8.count <= MQTTEncoder.maximumStringBytes else {
            metrics.dropped(.unencodable)
            return false
        }
        let now = NIODeadline.now()
        guard let session = state.withLock({ $0.sessions[SessionKey(tenantID: tenantID, clientID: deviceID.rawValue)] })
        else { return false }
        let qos = session.withState { state -> QoS? in
            guard state.sink != nil else { return nil }
            return state.subscriptions.compactMap { filter, options in
                filter.matches(message.topic) ? options.qos : nil
            }.max()
        }
        guard let qos else { return false }
        let delivery = Delivery(
            message: message, qos: min(qos, .atLeastOnce), retain: false, subscriptionIdentifiers: [])
        if let reason = session.deliver(delivery, now: now).dropped {
            metrics.dropped(reason)
            return false
        }
        metrics.messagesDelivered.increment()
        return true
    }

    /// The client ids with a connected session in `tenantID` now (devices use their device id). A walk over
    /// the session table: for pages and reports, not the packet path.
    public func connectedClientIDs(in tenantID: TenantID) -> Set<String> {
        let sessions = state.withLock { state in state.sessions.filter { $0.key.tenantID == tenantID } }
        return Set(sessions.compactMap { key, session in session.withState { $0.sink != nil } ? key.clientID : nil })
    }

    /// Routes a message the hub itself publishes (feedback records for services) in `tenantID`'s topic space.
    public func publishFromHub(_ message: BrokerMessage, in tenantID: TenantID) {
        publish(message, in: tenantID, now: .now())
    }

    /// Routes a device's message that arrived another way (HTTPS) like its PUBLISH; returns the refusal, if
    /// any, and the persistence ticket to wait for before acknowledging (nil: nothing to wait for).
    public func publishOnBehalf(of sender: DeviceSender, _ message: BrokerMessage) -> (
        refusal: String?, ticket: UInt64?
    ) {
        guard message.topic.utf8.count <= MQTTEncoder.maximumStringBytes else {
            return ("The topic with its properties exceeds \(MQTTEncoder.maximumStringBytes) bytes.", nil)
        }
        let published = publish(message, from: sender, now: .now())
        return (published.refusal?.why, published.ticket)
    }

    private func publishWill(_ will: Will, now: NIODeadline) {
        if let sender = will.sender {
            _ = publish(will.message, from: sender, isWill: true, now: now)
        } else {
            publish(will.message, in: will.tenantID, now: now)
        }
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

    /// Gives `sink` the session `key`: a fresh one for clean start or when none exists, else the stored one.
    /// A connection still holding the session is closed (5.0: DISCONNECT 0x8E, [MQTT-3.1.4-3]). A session with
    /// expiry 0 (3.1.1: clean session) lasts only as long as that connection, so it ends rather than resumes.
    /// A Will waiting out its delay is dropped whatever the new connection asks: the client is back before the
    /// delay passed ([MQTT-3.1.2-8]).
    func open(
        _ key: SessionKey, cleanStart: Bool, expiryInterval: UInt32, receiveMaximum: Int,
        maximumPacketSize: Int = .max, sink: any ConnectionSink, now: NIODeadline
    ) -> Attachment {
        // The new sink takes the session inside the broker's lock: the old connection, closing meanwhile, then
        // finds its session taken and publishes no Will ([MQTT-3.1.3-9]).
        let (session, present, previous, resend) = state.withLock { state in
            let existing = state.sessions[key]
            let previous = existing?.sink
            // Attached or just detached (its end is on its way): either way it is over, never resumed.
            let endsWithItsConnection = existing?.withState { $0.expiryInterval == 0 || $0.isEnded } ?? false
            if let existing, !cleanStart, !endsWithItsConnection {
                store(existing, expiry: expiryInterval, disconnected: false)
                let resend = existing.attach(
                    sink, receiveMaximum: receiveMaximum, maximumPacketSize: maximumPacketSize,
                    expiryInterval: expiryInterval, now: now)
                return (existing, true, previous, resend)
            }
            if let existing {
                existing.withState { state in
                    state.pendingWill?.cancel()
                    state.pendingWill = nil
                }
                endStored(existing, in: &state)
            }
            let session = Session(
                key: key, limits: configuration.flowLimits, expiryInterval: expiryInterval, persistence: persistence,
                metrics: metrics)
            store(session, expiry: expiryInterval, disconnected: false)
            state.sessions[key] = session
            metrics.sessions.record(state.sessions.count)
            let resend = session.attach(
                sink, receiveMaximum: receiveMaximum, maximumPacketSize: maximumPacketSize,
                expiryInterval: expiryInterval, now: now)
            return (session, false, previous, resend)
        }
        previous?.close(.sessionTakenOver, reasonString: "Another connection took over the session.")
        return Attachment(session: session, sessionPresent: present, resend: resend)
    }

    /// `sink` has ended. Its session is released (ended now when its expiry is 0, else when the expiry
    /// passes) and the Will is published now, after its delay, or not at all when a connection that arrived
    /// first took the session over and continues it: the client is back before any delay could pass
    /// ([MQTT-3.1.3-9]; on 3.1.1 too, as mosquitto, so that a takeover racing the old connection's DISCONNECT
    /// never announces a departure).
    func close(
        _ session: Session, sink: any ConnectionSink, will: Will?, device: DeviceSender? = nil, now: NIODeadline
    ) {
        let count = connectionCount.wrappingSubtract(1, ordering: .relaxed).newValue
        metrics.connections.record(count)
        guard session.detach(sink) else { return }
        if let device { deviceGone(device) }
        // A clean start elsewhere ended this session while its connection was still open.
        if session.withState({ $0.isEnded }) {
            if let will { publishWill(will, now: now) }
            return
        }
        let expiry = session.withState { $0.expiryInterval }
        if expiry > 0 { store(session, expiry: expiry, disconnected: true) }
        guard expiry > 0 else {
            end(session)
            if let will { publishWill(will, now: now) }
            return
        }
        if let will {
            let delay = min(will.delay, expiry)
            if delay == 0 {
                publishWill(will, now: now)
            } else {
                // total: widens a UInt32 interval; TimeAmount.seconds caps.
                let task = timers.scheduleTask(in: .seconds(Int64(delay))) { [weak self] in
                    session.withState { $0.pendingWill = nil }
                    guard let self else { return }
                    publishWill(will, now: .now())
                }
                session.withState { state in
                    // A connection that took the session up (or ended it) meanwhile had nothing to cancel yet:
                    // cancel here.
                    if state.sink != nil || state.isEnded { task.cancel() } else { state.pendingWill = task }
                }
            }
        }
        if expiry != .max {
            // total: widens a UInt32 interval; TimeAmount.seconds caps.
            let task = timers.scheduleTask(in: .seconds(Int64(expiry))) { [weak self] in
                guard let self else { return }
                end(session)
            }
            session.withState { state in
                if state.sink != nil { task.cancel() } else { state.pendingExpiry = task }
            }
        }
    }

    /// Ends a session: its subscriptions go, its queue is dropped, its ClientId is free.
    func end(_ session: Session) {
        state.withLock { state in
            endStored(session, in: &state)
            if state.sessions[session.key] === session { state.sessions[session.key] = nil }
            metrics.sessions.record(state.sessions.count)
        }
    }

    /// Drops a session's subscriptions, and its stored form if it has one.
    private func endStored(_ session: Session, in state: inout State) {
        Self.removeSubscriptions(of: session, from: &state)
        let wasStored = session.withState { session in
            defer {
                session.isStored = false
                session.isEnded = true
            }
            return session.isStored
        }
        if wasStored {
            persistence?.record([.deleteSession(tenantID: session.key.tenantID, clientID: session.key.clientID)])
        }
    }

    /// Records the session's expiry and connection state when it has (or now gets) a session expiry; a session
    /// stored for the first time brings its subscriptions along.
    private func store(_ session: Session, expiry: UInt32, disconnected: Bool) {
        guard let persistence else { return }
        session.withState { state in
            guard !state.isEnded, expiry > 0 || state.isStored else { return }
            var changes = [persistence.session(session.key, expiry: expiry, disconnected: disconnected)]
            if !state.isStored {
                state.isStored = true
                changes += state.subscriptions.map { filter, options in
                    persistence.subscription(session.key, filter, options)
                }
            }
            persistence.record(changes)
        }
    }

    private static func removeSubscriptions(of session: Session, from state: inout State) {
        let filters = session.withState { session in
            defer { session.subscriptions = [:] }
            return Array(session.subscriptions.keys)
        }
        for filter in filters {
            _ = state.spaces[session.key.tenantID]?.unsubscribe(session, filter)
        }
    }

    /// Adds subscriptions; returns per request the granted QoS (nil: refused by the per-session limit)
    /// and the retained messages to send after SUBACK.
    func subscribe(_ session: Session, _ requests: [SubscribeRequest]) -> [(granted: QoS?, retained: [Delivery])] {
        let tenantID = session.key.tenantID
        return state.withLock { state in
            requests.map { request in
                let count = session.withState { $0.subscriptions.count }
                let exists = session.withState { $0.subscriptions[request.filter] != nil }
                guard exists || count < configuration.maximumSubscriptionsPerSession else {
                    metrics.hit(.subscriptionsPerSession)
                    return (nil, [])
                }
                let isNew = state.spaces[tenantID, default: TopicSpace()].subscribe(
                    session, request.filter, request.options)
                session.withState { stored in
                    stored.subscriptions[request.filter] = request.options
                    if stored.isStored, let persistence {
                        persistence.record([persistence.subscription(session.key, request.filter, request.options)])
                    }
                }
                let wantsRetained =
                    switch request.retainHandling {
                    case .sendOnSubscribe: true
                    case .sendOnNewSubscribe: isNew
                    case .doNotSend: false
                    }
                guard wantsRetained, let space = state.spaces[tenantID] else { return (request.options.qos, []) }
                let retained = space.retainedMessages(matching: request.filter).map { message in
                    Delivery(
                        message: message, qos: min(message.qos, request.options.qos), retain: true,
                        subscriptionIdentifiers: request.options.identifier.map { [$0] } ?? [])
                }
                return (request.options.qos, retained)
            }
        }
    }

    /// Removes subscriptions; returns per filter whether one existed.
    func unsubscribe(_ session: Session, _ filters: [TopicFilter]) -> [Bool] {
        state.withLock { state in
            filters.map { filter in
                session.withState { stored in
                    stored.subscriptions[filter] = nil
                    if stored.isStored {
                        persistence?.record([
                            .deleteSubscription(
                                tenantID: session.key.tenantID, clientID: session.key.clientID, filter: filter.rawValue)
                        ])
                    }
                }
                return state.spaces[session.key.tenantID]?.unsubscribe(session, filter) ?? false
            }
        }
    }

    /// Routes `message` within `tenantID`: keeps or clears it as retained, then offers it to every matching
    /// session. `isSystem` marks the broker's own `$SYS` figures: not counted, not stored, not limited.
    @discardableResult
    func publish(_ message: BrokerMessage, in tenantID: TenantID, now: NIODeadline, isSystem: Bool = false) -> Routed {
        if !isSystem { metrics.messagesReceived.increment() }
        var routed = Routed()
        let targets = state.withLock { state in
            if !isSystem { state.spaces[tenantID, default: TopicSpace()].received += 1 }
            if message.retain {
                routed.retainAccepted = state.spaces[tenantID, default: TopicSpace()].retain(
                    message, limit: isSystem ? .max : configuration.maximumRetainedPerTenant)
                if routed.retainAccepted, !isSystem, let persistence {
                    routed.ticket = persistence.record([
                        message.payload.readableBytes == 0
                            ? .deleteRetained(tenantID: tenantID, topic: message.topic)
                            : .putRetained(
                                StoredRetained(tenantID: tenantID, message: persistence.stored(message, now: now)))
                    ])
                }
                metrics.retainedMessages.record(state.spaces.values.reduce(0) { $0 + $1.retained.count })
            }
            let targets = state.spaces[tenantID]?.targets(for: message) ?? []
            if !isSystem { state.spaces[tenantID]?.delivered += targets.count }
            return targets
        }
        if !routed.retainAccepted { metrics.hit(.retainedPerTenant) }
        if targets.isEmpty { metrics.messagesNotRouted.increment() }
        routed.matched = targets.count
        for target in targets {
            let delivery = Delivery(
                message: message, qos: min(message.qos, target.options.qos),
                retain: target.options.retainAsPublished && message.retain, subscriptionIdentifiers: target.identifiers)
            routed.include(deliver(delivery, to: target.session, now: now))
        }
        return routed
    }

    /// Offers one delivery to one session, counting the outcome; returns the commit that stores it, if any.
    @discardableResult
    func deliver(_ delivery: Delivery, to session: Session, now: NIODeadline) -> UInt64? {
        let (dropped, ticket) = session.deliver(delivery, now: now)
        if let dropped {
            metrics.dropped(dropped)
        } else {
            metrics.messagesDelivered.increment()
        }
        return ticket
    }

    /// Start-up: a retained message from the store.
    func restoreRetained(_ message: BrokerMessage, in tenantID: TenantID) {
        state.withLock { state in
            _ = state.spaces[tenantID, default: TopicSpace()].retain(message, limit: .max)
        }
    }

    /// Start-up: a subscription of a stored session.
    func restoreSubscription(_ session: Session, _ filter: TopicFilter, _ options: SubscriptionOptions) {
        state.withLock { state in
            _ = state.spaces[session.key.tenantID, default: TopicSpace()].subscribe(session, filter, options)
            session.withState { $0.subscriptions[filter] = options }
        }
    }

    /// Start-up: the stored sessions join the table.
    func adopt(_ sessions: [Session]) {
        state.withLock { state in
            for session in sessions { state.sessions[session.key] = session }
            metrics.sessions.record(state.sessions.count)
        }
    }

    /// The session a live connection of `key` holds, for revocation.
    func session(_ key: SessionKey) -> Session? {
        state.withLock { $0.sessions[key] }
    }

    /// Per tenant with sessions: the figures `$SYS/broker/…` reports.
    func tenantFigures() -> [TenantID: TopicSpace.Figures] {
        state.withLock { state in
            var figures: [TenantID: TopicSpace.Figures] = [:]
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
    func connectedSessions(in tenantID: TenantID) -> [Session] {
        let sessions = state.withLock { state in state.sessions.values.filter { $0.key.tenantID == tenantID } }
        return sessions.filter { $0.sink != nil }
    }
}
