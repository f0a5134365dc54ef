import Foundation
public import Logging
import Metrics
import NIOCore
public import ServiceLifecycle
import Synchronization
public import WardenAzure
public import WardenBroker
public import WardenCore
import WardenMQTT
public import WardenStore

/// Every device's cloud-to-device queue (anchors.md §1.5): send, list and purge for the API; delivery on the
/// device's MQTT connection (its PUBACK completes) or its AMQP link (`CloudToDeviceLink`, whose dispositions
/// complete, reject or abandon), and receive/complete/reject/abandon for the HTTPS device API. Every change is committed in the broker's group commit before it is acknowledged, so an accepted
/// message survives a crash and a completed one is never delivered again. As a service it expires messages
/// and HTTPS locks once a second.
public final class CloudToDeviceService: Service, Sendable {
    public struct Configuration: Sendable {
        /// Messages one device's queue holds.
        public var maximumDepth = 50
        /// Abandons before a message is dead-lettered.
        public var maximumDeliveryCount = 10
        /// Seconds a message lives when the sender gives no time to live, and the most it may give.
        public var defaultTimeToLive: Int64 = 48 * 3600
        public var maximumTimeToLive: Int64 = 48 * 3600
        /// Seconds an HTTPS receive locks a message for.
        public var lockDuration: Int64 = 60
        /// Body and properties of one message, bytes.
        public var maximumMessageSize = 64 * 1024

        public init() {}
    }

    /// What a sender asks for.
    public struct Request: Sendable {
        public var body: [UInt8]
        public var messageID: String?
        public var correlationID: String?
        public var properties: [PropertyBag.Property]
        public var contentType: String?
        public var contentEncoding: String?
        /// Seconds; nil for the configured default.
        public var timeToLive: Int64?
        public var acknowledgement: CloudToDeviceMessage.Acknowledgement

        public init(
            body: [UInt8], messageID: String? = nil, correlationID: String? = nil,
            properties: [PropertyBag.Property] = [], contentType: String? = nil, contentEncoding: String? = nil,
            timeToLive: Int64? = nil, acknowledgement: CloudToDeviceMessage.Acknowledgement = .none
        ) {
            self.body = body
            self.messageID = messageID
            self.correlationID = correlationID
            self.properties = properties
            self.contentType = contentType
            self.contentEncoding = contentEncoding
            self.timeToLive = timeToLive
            self.acknowledgement = acknowledgement
        }
    }

    /// A queued message and whether something holds it.
    public struct Queued: Sendable {
        public let message: CloudToDeviceMessage
        public let isLocked: Bool
    }

    struct QueueKey: Hashable {
        let tenantID: TenantID
        let deviceID: DeviceID
    }

    let configuration: Configuration
    let store: any CloudToDeviceStore
    let persistence: BrokerPersistence
    let broker: Broker
    let clock: any WardenClock
    let logger: Logger
    private let queues: Mutex<[QueueKey: CloudToDeviceQueue]>
    /// Each device's link of another protocol; read and changed only inside `queues`' lock, so that a delivery
    /// and a detach of the same link are never interleaved.
    private let links = DeviceLinks<any CloudToDeviceLink> { $0.superseded() }
    private let messageNumbers: SequenceNumbers
    private let feedbackNumbers: SequenceNumbers
    /// Whether this node dead-letters an expired message (on several nodes, one node settles each).
    private let settlesExpiry: @Sendable (Int64) -> Bool
    /// On a node of a cluster, an HTTPS lock this node does not know may be another node's, not yet followed.
    private let isClusterNode: Bool
    /// Where committed queue changes are announced (set by `follow`), for other nodes' copies.
    private let bus = Mutex<EventBus?>(nil)
    /// Reads of the store under way (a `reload`, a lock looked up) and the queues changed meanwhile, here or by
    /// a notice (noted inside `queues`' lock): a read may be older than such a change, so it is not applied there.
    private let watches = Mutex<[UInt64: Watch]>([:])
    private let nextWatch = Atomic<UInt64>(0)

    private struct Watch {
        /// The queue watched; nil for every queue.
        let key: QueueKey?
        var changed: Set<QueueKey> = []
    }
    private let sent = Counter(label: "warden_c2d_messages_sent_total")
    private let refusedFull = Counter(label: "warden_c2d_queue_full_total")
    private let settled: [CloudToDeviceFeedback.Status: Counter]

    /// Takes up the stored queues (every message Enqueued again) and continues their numbering (on a node of a
    /// cluster, in its `slot`: `SequenceNumbers`).
    public init(
        configuration: Configuration, store: any CloudToDeviceStore, persistence: BrokerPersistence, broker: Broker,
        slot: Int? = nil, settlesExpiry: @escaping @Sendable (Int64) -> Bool = { _ in true }, clock: any WardenClock,
        logger: Logger
    ) async throws {
        self.settlesExpiry = settlesExpiry
        self.isClusterNode = slot != nil
        self.configuration = configuration
        self.store = store
        self.persistence = persistence
        self.broker = broker
        self.clock = clock
        self.logger = logger
        let (lastMessage, lastFeedback) = try await store.lastCloudToDeviceSequences()
        self.messageNumbers = SequenceNumbers(after: lastMessage, slot: slot) { clock.now().unixMicroseconds }
        self.feedbackNumbers = SequenceNumbers(after: lastFeedback, slot: slot) { clock.now().unixMicroseconds }
        let limits = CloudToDeviceQueue.Limits(
            maximumDepth: configuration.maximumDepth, maximumDeliveryCount: configuration.maximumDeliveryCount)
        var restored: [QueueKey: [CloudToDeviceMessage]] = [:]
        for message in try await store.loadCloudToDeviceMessages() {
            restored[QueueKey(tenantID: message.tenantID, deviceID: message.deviceID), default: []].append(message)
        }
        self.queues = Mutex(restored.mapValues { CloudToDeviceQueue(limits: limits, restoring: $0) })
        self.settled = Dictionary(
            uniqueKeysWithValues: CloudToDeviceFeedback.Status.allCases.map {
                ($0, Counter(label: "warden_c2d_messages_settled_total", dimensions: [("outcome", $0.rawValue)]))
            })
    }

    private var limits: CloudToDeviceQueue.Limits {
        .init(maximumDepth: configuration.maximumDepth, maximumDeliveryCount: configuration.maximumDeliveryCount)
    }

    private func nextFeedback() -> Int64 { feedbackNumbers.next() }

    /// Enqueues a message once committed, then offers it to the device's connection.
    public func send(_ request: Request, to deviceID: DeviceID, in tenantID: TenantID) async throws
        -> CloudToDeviceMessage
    {
        let ttl = request.timeToLive ?? configuration.defaultTimeToLive
        guard (1...configuration.maximumTimeToLive).contains(ttl) else {
            throw WardenError(
                .c2dInvalidTTL, "The time to live must be 1 to \(configuration.maximumTimeToLive) seconds, not \(ttl).")
        }
        var bag = request.properties
        if let contentType = request.contentType { bag.append(.init("$.ct", contentType)) }
        if let contentEncoding = request.contentEncoding { bag.append(.init("$.ce", contentEncoding)) }
        let properties = PropertyBag(bag).text
        guard request.body.count + properties.utf8.count <= configuration.maximumMessageSize else {
            throw WardenError(
                .c2dTooLarge,
                "The message is \(request.body.count + properties.utf8.count) bytes with its properties; "
                    + "the most is \(configuration.maximumMessageSize).")
        }
        let now = clock.nowMilliseconds()
        let sequence = messageNumbers.next()
        let message = CloudToDeviceMessage(
            sequenceNumber: sequence, tenantID: tenantID, deviceID: deviceID,
            messageID: request.messageID ?? Self.randomHex(), correlationID: request.correlationID,
            properties: properties, body: request.body, acknowledgement: request.acknowledgement, enqueuedAt: now,
            expiresAt: now + ttl * 1000)
        // Stored first and delivered later: a topic MQTT cannot carry must be refused now, not at delivery.
        let topicBytes = Self.topic(of: message).utf8.count
        guard topicBytes <= MQTTEncoder.maximumStringBytes else {
            throw WardenError(
                .c2dTooLarge,
                "The message's topic with its properties would be \(topicBytes) bytes; MQTT carries at most "
                    + "\(MQTTEncoder.maximumStringBytes).")
        }
        let key = QueueKey(tenantID: tenantID, deviceID: deviceID)
        let ticket = try queues.withLock { queues throws(WardenError) -> UInt64 in
            var queue = queues[key] ?? CloudToDeviceQueue(limits: limits)
            if queue.entries.count >= limits.maximumDepth { refusedFull.increment() }
            let changes = try queue.enqueue(message)
            queues[key] = queue
            return record(changes, of: key)
        }
        await persistence.committed(ticket)
        sent.increment()
        deliverPending(key)
        return message
    }

    /// A tenant's feedback records after sequence `after`, oldest first, settled (`SequenceNumbers.settled`: in a
    /// cluster another node may still be committing one numbered a moment earlier); the cursor of a full page is
    /// its last sequence number.
    public func feedback(_ tenantID: TenantID, after: Int64, limit: Int) async throws -> Page<CloudToDeviceFeedback> {
        let settled = feedbackNumbers.settled()
        let items = try await store.feedback(tenantID, afterSequence: after, limit: limit).filter {
            $0.sequenceNumber <= settled
        }
        return Page(items: items, nextCursor: items.count == limit ? items.last.map { String($0.sequenceNumber) } : nil)
    }

    /// Follows device deletions: a deleted device's queue goes with it (no feedback: the device is gone, as
    /// in IoT Hub), so that a new device of the same id starts empty. The node that deleted the device
    /// deletes the stored queue; the others forget what they held. Announces this node's committed queue
    /// changes on `bus`, and follows other nodes'.
    public func follow(_ bus: EventBus) {
        self.bus.withLock { $0 = bus }
        _ = bus.observeWithOrigin { [weak self] event, origin in
            guard let self else { return }
            switch event {
            case .deviceDeleted(let tenantID, let deviceID):
                let key = QueueKey(tenantID: tenantID, deviceID: deviceID)
                queues.withLock { queues in
                    noteChange(of: key)
                    guard let queue = queues.removeValue(forKey: key), origin == .thisNode else { return }
                    _ = persistence.record(
                        queue.entries.map { .deleteCloudToDevice(sequence: $0.message.sequenceNumber) })
                }
            // Another node queued, settled or changed a message: this node's copy of the queue follows, and a
            // device connected here gets what became deliverable.
            case .cloudToDeviceChanged(let tenantID, let deviceID, let sequence, let message) where origin == .otherNode:
                let key = QueueKey(tenantID: tenantID, deviceID: deviceID)
                queues.withLock { queues in
                    noteChange(of: key)
                    var queue = queues[key] ?? CloudToDeviceQueue(limits: limits)
                    queue.follow(sequence, stored: message)
                    queues[key] = queue.entries.isEmpty ? nil : queue
                }
                if message != nil { deliverPending(key) }
            default:
                break
            }
        }
    }

    /// Reads every queue again from the store, for a cluster node that may have missed other nodes' notices.
    /// What this node recorded is committed first, so the read holds it; a queue changed here or by a notice
    /// while the read ran is left as it is (the read may be older than that change). Devices connected here get
    /// what became deliverable.
    public func reload() async throws {
        let watch = startWatching(nil)
        defer { _ = stopWatching(watch) }
        await persistence.committedSoFar()
        var stored: [QueueKey: [CloudToDeviceMessage]] = [:]
        for message in try await store.loadCloudToDeviceMessages() {
            stored[QueueKey(tenantID: message.tenantID, deviceID: message.deviceID), default: []].append(message)
        }
        let filled = queues.withLock { queues -> [QueueKey] in
            let changed = stopWatching(watch)
            for key in Set(queues.keys).union(stored.keys) where !changed.contains(key) {
                var queue = queues[key] ?? CloudToDeviceQueue(limits: limits)
                queue.reconcile(with: stored[key] ?? [])
                queues[key] = queue.entries.isEmpty ? nil : queue
            }
            return Array(queues.keys)
        }
        for key in filled { deliverPending(key) }
    }

    /// Notes, inside the queues' lock, that `key`'s queue changed while a `reload` reads.
    private func noteChange(of key: QueueKey) {
        watches.withLock { watches in
            for (id, watch) in watches where watch.key == nil || watch.key == key { watches[id]?.changed.insert(key) }
        }
    }

    private func startWatching(_ key: QueueKey?) -> UInt64 {
        let id = nextWatch.wrappingAdd(1, ordering: .relaxed).newValue
        watches.withLock { $0[id] = Watch(key: key) }
        return id
    }

    /// The queues changed since `startWatching` (empty once stopped).
    private func stopWatching(_ id: UInt64) -> Set<QueueKey> {
        watches.withLock { $0.removeValue(forKey: id)?.changed ?? [] }
    }

    /// The device's queue, oldest first.
    public func list(_ tenantID: TenantID, _ deviceID: DeviceID) -> [Queued] {
        let now = clock.nowMilliseconds()
        let queue = queues.withLock { $0[QueueKey(tenantID: tenantID, deviceID: deviceID)] }
        return queue?.entries.map { Queued(message: $0.message, isLocked: $0.isHeld(at: now)) } ?? []
    }

    /// Empties the device's queue (feedback `Purged` where asked); returns how many messages it held.
    public func purge(_ tenantID: TenantID, _ deviceID: DeviceID) async -> Int {
        let now = clock.nowMilliseconds()
        let (count, ticket) = queues.withLock { queues in
            guard var queue = queues.removeValue(forKey: QueueKey(tenantID: tenantID, deviceID: deviceID)) else {
                return (0, UInt64(0))
            }
            let count = queue.entries.count
            return (
                count,
                record(
                    queue.purge(now: now, feedbackNumber: nextFeedback),
                    of: QueueKey(tenantID: tenantID, deviceID: deviceID))
            )
        }
        await persistence.committed(ticket)
        return count
    }

    /// HTTPS receive: locks the oldest Enqueued message for `lockSeconds` (default: the configured lock) and
    /// returns it with its lock token once the lock is committed; nil when nothing is waiting. The store takes a
    /// lock only over no other running lock: on a node of a cluster, whose copy may not have heard yet that
    /// another node locked or settled the message, the receive reads back whether its lock took, and if not
    /// takes up the stored message and tries the next one (a few times at most).
    public func receive(_ tenantID: TenantID, _ deviceID: DeviceID, lockSeconds: Int64? = nil) async -> (
        message: CloudToDeviceMessage, lockToken: String
    )? {
        let key = QueueKey(tenantID: tenantID, deviceID: deviceID)
        let duration = (lockSeconds ?? configuration.lockDuration) * 1000
        for _ in 0..<3 {
            let token = Self.randomHex()
            let now = clock.nowMilliseconds()
            let locked = queues.withLock { queues -> (CloudToDeviceMessage, UInt64)? in
                guard let (message, changes) = queues[key]?.lockForHTTPS(token: token, now: now, duration: duration)
                else { return nil }
                return (message, record(changes, of: key))
            }
            guard let (message, ticket) = locked else { return nil }
            let watch = startWatching(key)
            defer { _ = stopWatching(watch) }
            await persistence.committed(ticket)
            guard isClusterNode else { return (message, token) }
            if await lockTook(token, of: message) {
                bus.withLock { $0 }?.publish(
                    .cloudToDeviceChanged(tenantID, deviceID, sequence: message.sequenceNumber, message: message))
                return (message, token)
            }
            let stored: CloudToDeviceMessage?
            do {
                stored = try await store.cloudToDeviceMessage(sequence: message.sequenceNumber)
            } catch {
                continue
            }
            queues.withLock { queues in
                guard var queue = queues[key] else { return }
                // Changed meanwhile (a notice, another receive here): that change is newer than the read, so only
                // the lock that did not take is let go.
                if stopWatching(watch).isEmpty {
                    queue.follow(message.sequenceNumber, stored: stored)
                } else {
                    queue.releaseHTTPS(token: token)
                }
                queues[key] = queue.entries.isEmpty ? nil : queue
            }
        }
        return nil
    }

    /// Whether the store holds `message` with lock `token`; true when it cannot be read (the lock is committed,
    /// as it was before this check).
    private func lockTook(_ token: String, of message: CloudToDeviceMessage) async -> Bool {
        do {
            return try await store.cloudToDeviceMessage(message.tenantID, message.deviceID, lockToken: token) != nil
        } catch {
            return true
        }
    }

    /// Attaches a device's cloud-to-device link: its Enqueued messages are offered to it (rather than to an
    /// MQTT session of the device) until `detach`. A later link of the device takes the place of an earlier
    /// one, which is told (`superseded`) and whose messages in flight go to the new one. Returns the
    /// attachment's number, which settles and detaches.
    public func attach(_ link: any CloudToDeviceLink, tenantID: TenantID, deviceID: DeviceID) -> UInt64 {
        let key = QueueKey(tenantID: tenantID, deviceID: deviceID)
        let number = queues.withLock { queues in
            let (number, earlier) = links.attach(link, tenantID, deviceID)
            if let earlier { queues[key]?.release(.link(earlier)) }
            return number
        }
        deliverPending(key)
        return number
    }

    /// Ends attachment `number`: what it held and did not settle is Enqueued again (and offered, to an MQTT
    /// session of the device if one is up).
    public func detach(_ number: UInt64, tenantID: TenantID, deviceID: DeviceID) {
        let key = QueueKey(tenantID: tenantID, deviceID: deviceID)
        queues.withLock { queues in
            queues[key]?.release(.link(number))
            links.detach(number, tenantID, deviceID)
        }
        deliverPending(key)
    }

    /// Offers the device's link what became deliverable for it: its client gave credit.
    public func offerPending(tenantID: TenantID, deviceID: DeviceID) {
        deliverPending(QueueKey(tenantID: tenantID, deviceID: deviceID))
    }

    /// A link's settlement of a message it holds, applied at once (a detach that follows cannot release it
    /// again); returns the commit ticket to wait for. `c2d.lock_lost` when the link holds no such message
    /// (settled already, or released when the link was superseded). An abandoned message is offered again at
    /// once, a delivery more on its count.
    public func settle(
        _ tenantID: TenantID, _ deviceID: DeviceID, sequence: Int64, link number: UInt64,
        _ settlement: CloudToDeviceSettlement
    ) throws(WardenError) -> UInt64 {
        let key = QueueKey(tenantID: tenantID, deviceID: deviceID)
        let ticket = try settle(key, sequence: sequence, heldBy: .link(number), settlement)
        if settlement == .abandon { deliverPending(key) }
        return ticket
    }

    /// HTTPS complete, reject or abandon of the message holding `lockToken`, once committed. On a cluster node a
    /// lock it does not hold is looked up in the store: the device may have received on another node whose
    /// change has not reached this one yet.
    public func settle(
        _ tenantID: TenantID, _ deviceID: DeviceID, lockToken: String, _ settlement: CloudToDeviceSettlement
    ) async throws {
        let key = QueueKey(tenantID: tenantID, deviceID: deviceID)
        // Not applied over a change of the queue heard while reading (the message may have been settled
        // meanwhile): then looked up again, a few times at most.
        for _ in 0..<3 where isClusterNode && !holds(key, lockToken) {
            let watch = startWatching(key)
            defer { _ = stopWatching(watch) }
            guard let stored = try await store.cloudToDeviceMessage(tenantID, deviceID, lockToken: lockToken) else {
                break
            }
            let isApplied = queues.withLock { queues in
                guard stopWatching(watch).isEmpty else { return false }
                var queue = queues[key] ?? CloudToDeviceQueue(limits: limits)
                queue.follow(stored.sequenceNumber, stored: stored)
                queues[key] = queue
                return true
            }
            if isApplied { break }
        }
        let ticket = try settle(key, token: lockToken, settlement)
        await persistence.committed(ticket)
        if settlement == .abandon { deliverPending(key) }
    }

    /// Whether this node's copy of `key`'s queue has a message locked with `token`.
    private func holds(_ key: QueueKey, _ token: String) -> Bool {
        queues.withLock { $0[key]?.entries.contains { $0.message.httpsLock?.token == token } ?? false }
    }

    private func settle(
        _ key: QueueKey, sequence: Int64? = nil, heldBy holder: CloudToDeviceQueue.Holder? = nil,
        token: String? = nil, _ settlement: CloudToDeviceSettlement
    ) throws(WardenError) -> UInt64 {
        let now = clock.nowMilliseconds()
        return try queues.withLock { queues throws(WardenError) -> UInt64 in
            guard var queue = queues[key] else {
                throw WardenError(.c2dLockLost, "No message is locked with that token; its lock may have expired.")
            }
            let changes = try queue.settle(
                sequence: sequence, heldBy: holder, token: token, settlement, now: now, feedbackNumber: nextFeedback)
            queues[key] = queue.entries.isEmpty ? nil : queue
            return record(changes, of: key)
        }
    }

    /// Records changes of `key`'s queue (from inside the queues' lock, so that they are stored in the order they
    /// happened), counts the settlements among them, and once committed publishes each feedback record to
    /// services on `$iothub/feedback/{deviceId}` and each message's change on the bus (other nodes follow it).
    private func record(_ changes: [DeviceStateChange], of key: QueueKey) -> UInt64 {
        var records: [CloudToDeviceFeedback] = []
        var changed: [(Int64, CloudToDeviceMessage?)] = []
        for change in changes {
            switch change {
            case .settleCloudToDevice(let sequence, let feedback):
                settled[feedback.status]?.increment()
                records.append(feedback)
                changed.append((sequence, nil))
            // A lock is announced once the receive knows it took (`receive`).
            case .putCloudToDevice(let message), .updateCloudToDevice(let message):
                changed.append((message.sequenceNumber, message))
            case .deleteCloudToDevice(let sequence): changed.append((sequence, nil))
            default: break
            }
        }
        if !changes.isEmpty { noteChange(of: key) }
        let ticket = persistence.record(changes)
        let bus = bus.withLock { $0 }
        guard !records.isEmpty || (bus != nil && !changed.isEmpty) else { return ticket }
        persistence.whenCommitted(ticket) { [broker, records, changed] in
            for record in records { broker.publishFromHub(Self.feedbackMessage(record), in: record.tenantID) }
            for (sequence, message) in changed {
                bus?.publish(
                    .cloudToDeviceChanged(key.tenantID, key.deviceID, sequence: sequence, message: message))
            }
        }
        return ticket
    }

    /// IoT Hub's feedback record fields.
    private struct FeedbackBody: Encodable {
        let originalMessageId: String
        let deviceId: String
        let statusCode: String
        let description: String
        let enqueuedTimeUtc: String
    }

    /// A feedback record as IoT Hub's service endpoint sends it: a JSON array of records, at QoS 1.
    static func feedbackMessage(_ record: CloudToDeviceFeedback) -> BrokerMessage {
        let body = FeedbackBody(
            originalMessageId: record.originalMessageID, deviceId: record.deviceID.rawValue,
            statusCode: record.status.rawValue, description: record.description,
            enqueuedTimeUtc: UTCTimestamp.string(milliseconds: record.enqueuedAt))
        var properties = Properties()
        properties.contentType = "application/vnd.microsoft.iothub.feedback.json"
        return BrokerMessage(
            topic: AzureTopic.feedback(record.deviceID).name,
            payload: ByteBuffer(bytes: (try? JSONEncoder().encode([body])) ?? Data()), qos: .atLeastOnce,
            retain: false, properties: properties, receivedAt: .now())
    }

    /// Offers the device's Enqueued messages to its attached link, else to its MQTT connection; what the MQTT
    /// connection does not take stays Enqueued.
    func deliverPending(_ key: QueueKey) {
        let now = clock.nowMilliseconds()
        let (messages, link) = queues.withLock { queues -> ([CloudToDeviceMessage], (any CloudToDeviceLink)?) in
            guard let link = links.link(key.tenantID, key.deviceID) else {
                return (queues[key]?.lock(for: .mqtt, now: now) ?? [], nil)
            }
            // A link takes what its client has credit for: the rest stays Enqueued (to expire, or for HTTPS).
            let locked = queues[key]?.lock(for: .link(link.number), now: now, limit: link.link.capacity) ?? []
            link.link.took(locked.count)
            return (locked, link.link)
        }
        guard !messages.isEmpty else { return }
        if let link {
            link.offer(messages)
            return
        }
        var refused: Set<Int64> = []
        for message in messages {
            let sequence = message.sequenceNumber
            let outgoing = BrokerMessage(
                hubTopic: Self.topic(of: message), payload: ByteBuffer(bytes: message.body),
                properties: Properties()
            ) { [weak self] in
                // The device's PUBACK completes the message (MQTT cannot reject or abandon).
                _ = try? self?.settle(key, sequence: sequence, .complete)
            }
            if !broker.deliver(outgoing, toDevice: key.deviceID, in: key.tenantID) { refused.insert(sequence) }
        }
        if !refused.isEmpty { queues.withLock { $0[key]?.release(.mqtt, refused) } }
    }

    /// The device's connection ended: what was in flight on it is Enqueued again (and offered, in case another
    /// connection of the device is already up).
    func deviceGone(_ key: QueueKey) {
        queues.withLock { $0[key]?.release(.mqtt) }
        deliverPending(key)
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(1))
                self.expire()
            }
        }
    }

    /// Dead-letters expired messages and ends run-out HTTPS locks, then offers what became Enqueued.
    func expire() {
        let now = clock.nowMilliseconds()
        let touched = queues.withLock { queues -> [QueueKey] in
            var touched: [QueueKey] = []
            for key in Array(queues.keys) {
                guard var queue = queues[key], let deadline = queue.nextDeadline, deadline <= now else { continue }
                _ = record(queue.expire(now: now, isMine: settlesExpiry, feedbackNumber: nextFeedback), of: key)
                queues[key] = queue.entries.isEmpty ? nil : queue
                touched.append(key)
            }
            return touched
        }
        for key in touched { deliverPending(key) }
    }

    /// `devices/{id}/messages/devicebound/{bag}` with the message id, `$.to`, correlation id and `iothub-ack` ahead
    /// of the sender's properties, as IoT Hub writes it.
    static func topic(of message: CloudToDeviceMessage) -> String {
        var system: [PropertyBag.Property] = [
            .init("$.mid", message.messageID),
            .init("$.to", "/devices/\(message.deviceID.rawValue)/messages/deviceBound"),
        ]
        if let correlationID = message.correlationID { system.append(.init("$.cid", correlationID)) }
        if message.acknowledgement != .none { system.append(.init("iothub-ack", message.acknowledgement.rawValue)) }
        let own = message.properties
        let bag = PropertyBag(system).text + (own.isEmpty ? "" : "&" + own)
        return AzureTopic.cloudToDevice(message.deviceID, propertyBag: bag).name
    }

    /// 128 random bits as hex: lock tokens and generated message ids.
    private static func randomHex() -> String {
        Hex.encode(SecretBytes.random(count: 16).bytes)
    }
}

/// A device's cloud-to-device link on a protocol other than MQTT (an AMQP link): the service offers it the
/// device's Enqueued messages as it has room for them, each locked to it until it settles it or detaches.
public protocol CloudToDeviceLink: AnyObject, Sendable {
    /// How many more messages the link takes now (its client's credit less what waits for it and what is on
    /// its way to it); read inside the service's lock.
    var capacity: Int { get }
    /// `count` messages were locked to the link and are on their way to it (called inside the service's lock).
    func took(_ count: Int)

    /// Messages now locked to this link, oldest first; called on any thread, outside the service's locks (two
    /// offers may arrive out of order: the link keeps them in sequence order).
    func offer(_ messages: [CloudToDeviceMessage])
    /// A later link of the same device took this one's place; what this one held went to it. Called inside
    /// the service's lock: it must not call back into the service.
    func superseded()
}
