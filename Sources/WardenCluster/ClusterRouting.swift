import CoreMetrics
public import Foundation
public import Logging
public import NIOCore
import Synchronization
public import WardenBroker
public import WardenCore
import WardenMQTT
public import WardenNATS

/// Routes MQTT messages between nodes over NATS (docs/scaling.md): what is published here goes to the subject
/// of its tenant and topic (retained messages to their tenant's retained subject, which every node takes);
/// this node subscribes to the subjects of the filters its sessions subscribe to, and routes what arrives to
/// them as the broker routes a local message. For each shared group with members here it subscribes to the
/// group's subjects (and its tenant's retained subject) in the group's NATS queue group: NATS gives each
/// message to one node of the group, which offers it to one member unless the publishing node's members
/// served the group.
///
/// Delivery between nodes is at most once: a message that cannot be sent (NATS down, its buffer full) is
/// dropped and counted (`warden_nats_messages_dropped_total`), and a PUBACK on the publisher's node does not
/// wait for other nodes.
public final class ClusterRouting: ClusterLink {
    /// The node's identity for this run: envelopes carry it, so that copies of one message are recognised.
    public let node: UUID
    private let nats: NATSClient
    private let broker: Broker
    private let maximumPacketSize: Int
    private let logger: Logger
    /// The last sequence handed to NATS.
    private let sequence = Mutex<UInt64>(0)
    private let state = Mutex(State())
    private let forwarded = Counter(label: "warden_cluster_messages_forwarded_total")
    private let received = Counter(label: "warden_cluster_messages_received_total")
    private let unreadable = Counter(label: "warden_cluster_messages_unreadable_total")
    /// Nodes remembered for dropping copies: far more than run at once (1,024 slots), few enough to scan.
    static let maximumOrigins = 4096

    private struct State {
        /// The NATS subscriptions held for each filter of each tenant.
        /// Keyed by the filter's bytes, as MQTT compares filters.
        var subscriptions: [TenantID: [TopicKey: [UInt64]]] = [:]
        /// The tenant-wide subscription for topics too long for a subject, while the tenant has any filter.
        var long: [TenantID: UInt64?] = [:]
        /// The NATS queue subscriptions held for each shared group with members here.
        var groups: [TenantID: [SharedGroup: [UInt64]]] = [:]
        /// The highest sequence routed from each node, and when: later copies of a message are dropped. Nodes
        /// get a new identity each start, so the longest-silent entries go past `maximumOrigins`.
        var lastSequence: [UUID: (sequence: UInt64, at: NIODeadline)] = [:]
    }

    public init(node: UUID, nats: NATSClient, broker: Broker, maximumPacketSize: Int, logger: Logger) {
        self.node = node
        self.nats = nats
        self.broker = broker
        self.maximumPacketSize = maximumPacketSize
        self.logger = logger
    }

    /// Starts taking retained messages from every node, and routing to and from this broker.
    public func start() {
        nats.subscribe(ClusterSubject.retainedAll) { [weak self] message in self?.receive(message) }
        broker.install(cluster: self)
    }

    public func forward(
        _ message: BrokerMessage, in tenantID: TenantID, servedGroups: [SharedGroup], stamp: RetainStamp?,
        now: NIODeadline
    ) {
        // Encoded outside any lock; numbered and handed to NATS under one, so that sequence order is the order on
        // the wire (a receiver takes a sequence not above the last one seen for a copy).
        let envelope = ClusterEnvelope(
            origin: node, sequence: 0, retainedAt: stamp?.time ?? 0, tenantID: tenantID,
            servedGroups: servedGroups.map { ClusterGroupID($0, in: tenantID) }, message: message)
        guard var bytes = envelope.encoded(now: now) else {
            unreadable.increment()
            return
        }
        let subject =
            message.retain
            ? ClusterSubject.retained(tenantID) : ClusterSubject.message(tenantID, topic: message.topic)
        let isSent = sequence.withLock { sequence in
            sequence &+= 1
            ClusterEnvelope.setSequence(sequence, in: &bytes)
            return nats.publish(subject, payload: bytes)
        }
        if isSent { forwarded.increment() }
    }

    public func interest(in tenantID: TenantID, _ filter: String, isAdded: Bool) {
        state.withLock { state in
            if isAdded {
                if state.subscriptions[tenantID] == nil {
                    state.long[tenantID] = nats.subscribe(ClusterSubject.long(tenantID)) { [weak self] in
                        self?.receive($0)
                    }
                }
                state.subscriptions[tenantID, default: [:]][TopicKey(filter)] = ClusterSubject.interest(
                    tenantID, filter: filter
                )
                .compactMap { subject in nats.subscribe(subject) { [weak self] in self?.receive($0) } }
            } else {
                for sid in state.subscriptions[tenantID]?.removeValue(forKey: TopicKey(filter)) ?? [] {
                    nats.unsubscribe(sid)
                }
                if state.subscriptions[tenantID]?.isEmpty == true {
                    state.subscriptions[tenantID] = nil
                    if let sid = state.long.removeValue(forKey: tenantID) ?? nil { nats.unsubscribe(sid) }
                }
            }
        }
    }

    public func interest(in tenantID: TenantID, group: SharedGroup, isAdded: Bool) {
        let id = ClusterGroupID(group, in: tenantID)
        state.withLock { state in
            if isAdded {
                let subjects =
                    ClusterSubject.interest(tenantID, filter: group.filter)
                    + [ClusterSubject.long(tenantID), ClusterSubject.retained(tenantID)]
                state.groups[tenantID, default: [:]][group] = subjects.compactMap { subject in
                    nats.subscribe(subject, queue: id.queue) { [weak self] in
                        self?.receive($0, for: group, id, in: tenantID)
                    }
                }
            } else {
                for sid in state.groups[tenantID]?.removeValue(forKey: group) ?? [] { nats.unsubscribe(sid) }
                if state.groups[tenantID]?.isEmpty == true { state.groups[tenantID] = nil }
            }
        }
    }

    /// Another node's message as its copy for `group`: offered to one member here, unless the publishing node's
    /// own members served the group.
    private func receive(
        _ delivery: NATSMessage, for group: SharedGroup, _ id: ClusterGroupID, in tenantID: TenantID
    ) {
        guard let envelope = read(delivery) else { return }
        guard envelope.origin != node, envelope.tenantID == tenantID, !envelope.servedGroups.contains(id) else {
            return
        }
        received.increment()
        broker.publishFromCluster(envelope.message, in: envelope.tenantID, stamp: envelope.stamp, toGroup: group)
    }

    private func read(_ delivery: NATSMessage) -> ClusterEnvelope? {
        guard
            let envelope = ClusterEnvelope(
                decoding: delivery.payload, maximumPacketSize: maximumPacketSize, now: .now()),
            // A retained message stamped more than a day ahead of this node's clock would hold its topic
            // against every later one.
            !envelope.message.retain || envelope.retainedAt <= Date().unixMicroseconds &+ RetainStamp.maximumLead
        else {
            unreadable.increment()
            logger.warning(
                "A message from another node could not be read", metadata: ["subject": "\(delivery.subject)"])
            return nil
        }
        return envelope
    }

    /// Routes one message from another node to the plain subscriptions here, once however many of them it
    /// matched.
    private func receive(_ delivery: NATSMessage) {
        guard let envelope = read(delivery) else { return }
        // NATS keeps one publisher's order on each subscription and writes all of a message's copies for one
        // connection before the next message's: a sequence not above the last one seen is a copy.
        let now = NIODeadline.now()
        let isNew = state.withLock { state in
            guard envelope.sequence > state.lastSequence[envelope.origin]?.sequence ?? 0 else { return false }
            state.lastSequence[envelope.origin] = (envelope.sequence, now)
            if state.lastSequence.count > Self.maximumOrigins,
                let oldest = state.lastSequence.min(by: { $0.value.at < $1.value.at })?.key
            {
                state.lastSequence[oldest] = nil
            }
            return true
        }
        guard isNew, envelope.origin != node else { return }
        received.increment()
        broker.publishFromCluster(envelope.message, in: envelope.tenantID, stamp: envelope.stamp)
    }
}
