import NIOCore
import WardenMQTT

/// The server-to-client half of a session: the window of QoS 1 and 2 messages awaiting acknowledgement and
/// the queue behind it (STYLE R6.5: events in, packets out, no I/O).
///
/// FIFO: a message is sent only when nothing is queued ahead of it. Packet identifiers are allocated here and
/// are unique among unacknowledged messages ([MQTT-2.2.1-3]). While offline, QoS 1 and 2 messages queue and
/// QoS 0 messages are not kept (5.0 §4.1 allows either); on resumption the window is re-sent with DUP set
/// and PUBREL re-sent for messages past PUBREC ([MQTT-4.4.0-1]), before anything from the queue.
struct OutboundFlow: Sendable {
    /// Where one in-flight message stands.
    enum Phase: Sendable, Equatable {
        case awaitingPuback
        case awaitingPubrec
        case awaitingPubcomp
    }

    struct InFlight: Sendable {
        let packetID: UInt16
        var phase: Phase
        let delivery: Delivery
    }

    /// What happened to an offered message.
    enum Offer {
        case send(PublishPacket)
        case queued
        case dropped(DropReason)
    }

    /// Why a message did not reach a session; each is a metric label.
    enum DropReason: String, Sendable, CaseIterable {
        case queueFull = "queue_full"
        case queueBytes = "queue_bytes"
        case expired
        case offlineQoS0 = "offline_qos0"
        case slowConsumer = "slow_consumer"
        case tooLargeForClient = "too_large_for_client"
        /// A string in it exceeds what MQTT can carry (65,535 bytes); only server-built messages can.
        case unencodable
        /// The policy does not let the subscriber `receive` the topic (checked per delivery).
        case notAuthorized = "not_authorized"
    }

    /// A stored message's step through the flow, for the session's store to follow.
    enum Step: Equatable {
        /// Sent with `packetID`, or moved on to `phase`.
        case inFlight(sequence: Int64, packetID: UInt16, phase: Phase)
        case finished(sequence: Int64)
    }

    /// The configured bounds.
    struct Limits: Sendable {
        /// The most QoS 1/2 messages unacknowledged at once, whatever the client's Receive Maximum.
        var maximumInflight: Int = 100
        /// The most messages queued behind the window.
        var maximumQueuedMessages: Int = 1000
        /// The most payload and topic bytes queued behind the window.
        var maximumQueuedBytes: Int = 16 * 1024 * 1024
    }

    private(set) var inflight: [InFlight] = []
    /// Grown when messages queue: most sessions never queue, and the default capacity (16) costs each ~700 bytes.
    private var queue = CircularBuffer<Delivery>(initialCapacity: 1)
    private(set) var queuedBytes = 0
    private var nextPacketID: UInt16 = 1
    private var window: Int
    private(set) var isOnline = false
    /// Messages dropped from the queue (expired, too large for the client) since the owner last asked.
    private var drops: [DropReason] = []
    /// The client's Maximum Packet Size (5.0); larger messages are dropped, never sent ([MQTT-3.1.2-25]).
    private var maximumPacketSize = Int.max
    /// Steps of stored messages since the owner last took them.
    private var steps: [Step] = []
    /// Acknowledged messages the hub settles (`BrokerMessage.onDelivered`), since the owner last took them.
    private var delivered: [BrokerMessage] = []
    let limits: Limits

    init(limits: Limits) {
        self.limits = limits
        self.window = limits.maximumInflight
    }

    var queuedCount: Int { queue.count }

    /// Offers a message; it is sent now, queued, or dropped with a reason.
    mutating func offer(_ delivery: Delivery, now: NIODeadline) -> Offer {
        if delivery.message.isExpired(at: now) { return .dropped(.expired) }
        if isOnline, !fits(delivery, now: now) { return .dropped(.tooLargeForClient) }
        if delivery.qos == .atMostOnce {
            // QoS 0 is not held for an offline client, nor queued behind the window: it would only grow stale.
            guard isOnline else { return .dropped(.offlineQoS0) }
            return .send(
                delivery.message.packet(
                    qos: .atMostOnce, packetID: nil, retain: delivery.retain,
                    subscriptionIdentifiers: delivery.subscriptionIdentifiers, now: now))
        }
        if isOnline, queue.isEmpty, inflight.count < window {
            return .send(admit(delivery, now: now))
        }
        guard queue.count < limits.maximumQueuedMessages else { return .dropped(.queueFull) }
        guard queuedBytes + delivery.size <= limits.maximumQueuedBytes else { return .dropped(.queueBytes) }
        queue.append(delivery)
        queuedBytes += delivery.size
        return .queued
    }

    /// The client acknowledged `packetID` with `kind`. Returns what to send now: PUBREL after PUBREC, then
    /// whatever the freed window lets out of the queue. Nil when no message was waiting for that acknowledgement.
    mutating func acknowledge(_ kind: PublishAckPacket.Kind, packetID: UInt16, now: NIODeadline) -> [MQTTPacket]? {
        guard let index = inflight.firstIndex(where: { $0.packetID == packetID }) else { return nil }
        switch (kind, inflight[index].phase) {
        case (.puback, .awaitingPuback), (.pubcomp, .awaitingPubcomp):
            let finished = inflight.remove(at: index)
            if let sequence = finished.delivery.sequence { steps.append(.finished(sequence: sequence)) }
            if finished.delivery.message.onDelivered != nil { delivered.append(finished.delivery.message) }
            return drain(now: now)
        case (.pubrec, .awaitingPubrec):
            inflight[index].phase = .awaitingPubcomp
            if let sequence = inflight[index].delivery.sequence {
                steps.append(.inFlight(sequence: sequence, packetID: packetID, phase: .awaitingPubcomp))
            }
            return [.publishAck(PublishAckPacket(.pubrel, packetID: packetID))]
        case (.pubrec, .awaitingPubcomp):
            return [.publishAck(PublishAckPacket(.pubrel, packetID: packetID))]
        default:
            return nil
        }
    }

    /// A PUBREC with a failure reason (5.0 §4.3.3): the message is released without PUBREL.
    mutating func refuse(packetID: UInt16, now: NIODeadline) -> [MQTTPacket] {
        // 5.0 §4.3.3: a PUBREC reason of 0x80 or more ends the exchange.
        if let index = inflight.firstIndex(where: { $0.packetID == packetID && $0.phase == .awaitingPubrec }) {
            let refused = inflight.remove(at: index)
            if let sequence = refused.delivery.sequence { steps.append(.finished(sequence: sequence)) }
        }
        return drain(now: now)
    }

    /// A connection took the session up, with the client's Receive Maximum (65,535 when absent).
    /// Returns the resumed window (DUP set) and then the messages that fit from the queue.
    mutating func resume(receiveMaximum: Int, maximumPacketSize: Int = .max, now: NIODeadline) -> [MQTTPacket] {
        isOnline = true
        self.maximumPacketSize = maximumPacketSize
        window = max(1, min(receiveMaximum, limits.maximumInflight))
        var packets: [MQTTPacket] = inflight.map { entry in
            switch entry.phase {
            case .awaitingPuback, .awaitingPubrec:
                .publish(
                    entry.delivery.message.packet(
                        qos: entry.delivery.qos, packetID: entry.packetID, retain: entry.delivery.retain,
                        subscriptionIdentifiers: entry.delivery.subscriptionIdentifiers, dup: true, now: now))
            case .awaitingPubcomp:
                .publishAck(PublishAckPacket(.pubrel, packetID: entry.packetID))
            }
        }
        packets += drain(now: now)
        return packets
    }

    /// Returns and forgets the queue's drops since last asked.
    /// The hub-settled messages acknowledged since last asked.
    mutating func takeDelivered() -> [BrokerMessage] {
        defer { delivered = [] }
        return delivered
    }

    /// Forgets the hub's messages, in flight or queued: their connection ended and the hub delivers them again.
    mutating func discardHubMessages() {
        inflight.removeAll { $0.delivery.message.onDelivered != nil }
        let kept = queue.filter { $0.message.onDelivered == nil }
        queue = CircularBuffer(kept)
        queuedBytes = kept.reduce(0) { $0 + $1.size }
    }

    /// Drops the queued deliveries, never sent, that `refuses` says no to, each counted as `reason` and
    /// forgotten by the store; those in flight stay (their exchange must finish).
    mutating func dropQueued(_ reason: DropReason, where refuses: (Delivery) -> Bool) {
        var kept = CircularBuffer<Delivery>()
        for delivery in queue {
            guard refuses(delivery) else {
                kept.append(delivery)
                continue
            }
            drops.append(reason)
            if let sequence = delivery.sequence { steps.append(.finished(sequence: sequence)) }
        }
        queue = kept
        queuedBytes = kept.reduce(0) { $0 + $1.size }
    }

    mutating func takeDrops() -> [DropReason] {
        defer { drops = [] }
        return drops
    }

    /// Whether the PUBLISH for `delivery` stays within the client's Maximum Packet Size. Encodes it only when
    /// the client set one.
    private func fits(_ delivery: Delivery, now: NIODeadline) -> Bool {
        guard maximumPacketSize < .max else { return true }
        let packet = delivery.message.packet(
            qos: delivery.qos, packetID: delivery.qos == .atMostOnce ? nil : 1, retain: delivery.retain,
            subscriptionIdentifiers: delivery.subscriptionIdentifiers, now: now)
        var buffer = ByteBuffer()
        guard (try? MQTTEncoder.encode(.publish(packet), version: .v5, into: &buffer)) != nil else { return false }
        return buffer.readableBytes <= maximumPacketSize
    }

    /// Returns and clears the steps of stored messages.
    mutating func takeSteps() -> [Step] {
        defer { steps = [] }
        return steps
    }

    /// Puts back what a store held: in-flight messages with their packet ids and phases, then the queue.
    mutating func restore(inflight restored: [InFlight], queue queued: [Delivery]) {
        inflight = restored
        for delivery in queued {
            queue.append(delivery)
            queuedBytes += delivery.size
        }
        if let highest = restored.map(\.packetID).max() { nextPacketID = highest == .max ? 1 : highest + 1 }
    }

    /// Every message the flow holds, in flight first, for a store that must forget them.
    var heldSequences: [Int64] {
        inflight.compactMap(\.delivery.sequence) + queue.compactMap(\.sequence)
    }

    /// The connection went away; the session keeps its window and queue.
    mutating func suspend() {
        isOnline = false
    }

    private mutating func drain(now: NIODeadline) -> [MQTTPacket] {
        var packets: [MQTTPacket] = []
        while isOnline, inflight.count < window, let next = queue.popFirst() {
            queuedBytes -= next.size
            let drop: DropReason? =
                next.message.isExpired(at: now) ? .expired : fits(next, now: now) ? nil : .tooLargeForClient
            if let drop {
                drops.append(drop)
                if let sequence = next.sequence { steps.append(.finished(sequence: sequence)) }
                continue
            }
            packets.append(.publish(admit(next, now: now)))
        }
        return packets
    }

    private mutating func admit(_ delivery: Delivery, now: NIODeadline) -> PublishPacket {
        let packetID = allocatePacketID()
        let phase: Phase = delivery.qos == .exactlyOnce ? .awaitingPubrec : .awaitingPuback
        inflight.append(InFlight(packetID: packetID, phase: phase, delivery: delivery))
        if let sequence = delivery.sequence {
            steps.append(.inFlight(sequence: sequence, packetID: packetID, phase: phase))
        }
        return delivery.message.packet(
            qos: delivery.qos, packetID: packetID, retain: delivery.retain,
            subscriptionIdentifiers: delivery.subscriptionIdentifiers, now: now)
    }

    /// The next identifier not held by an unacknowledged message; never 0 ([MQTT-2.2.1-3]).
    private mutating func allocatePacketID() -> UInt16 {
        while true {
            let candidate = nextPacketID
            nextPacketID = nextPacketID == .max ? 1 : nextPacketID + 1
            if !inflight.contains(where: { $0.packetID == candidate }) { return candidate }
        }
    }
}
