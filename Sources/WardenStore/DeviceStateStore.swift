public import Foundation
public import WardenCore

/// The state kept for devices that the device path changes, which outlives a restart: MQTT persistent sessions
/// with their subscriptions and undelivered messages, retained messages, telemetry, cloud-to-device queues and
/// feedback, and twins. Changes arrive in batches (the broker's group commit), each applied in one
/// transaction, in order, so that a device is acknowledged only after the batch holding its change committed.
public protocol DeviceStateStore: Sendable {
    /// Applies `changes` in order in one write transaction.
    func apply(_ changes: [DeviceStateChange]) async throws
    /// Applies `changes` as `apply` does for the node of a cluster named `node`, but leaves out the changes of
    /// each session the batch does not claim (`StoredSession.claims`) whose row is gone or names another node:
    /// a node that lost a session (it moved while this node was cut off) cannot write over its new holder. The
    /// rows are locked while the batch commits; returns the sessions left out whose rows name another node.
    func apply(_ changes: [DeviceStateChange], fencedTo node: String) async throws -> Set<StoredSessionKey>
    /// Everything stored, for the broker to resume from.
    func loadMQTTState() async throws -> MQTTStateSnapshot
    /// One session with its subscriptions and messages (no retained messages), for a node of a cluster taking
    /// over a session another node held; empty when the store holds no such session.
    func loadMQTTSession(tenantID: TenantID, clientID: String) async throws -> MQTTStateSnapshot
    /// The retained messages and kept clears, for a node of a cluster that may have missed other nodes' ones.
    func loadRetainedMessages() async throws -> [StoredRetained]
}

/// One change to the state kept for devices (see `DeviceStateStore`).
public enum DeviceStateChange: Sendable, Equatable {
    case putSession(StoredSession)
    /// Removes the session with its subscriptions and messages.
    case deleteSession(tenantID: TenantID, clientID: String)
    case putSubscription(StoredSubscription)
    case deleteSubscription(tenantID: TenantID, clientID: String, filter: String)
    case putMessage(StoredMessage)
    /// A message's place in the outbound flow changed (sent with a packet id, PUBREC received).
    case updateMessage(tenantID: TenantID, clientID: String, sequence: Int64, packetID: UInt16?, phase: UInt8)
    case deleteMessage(tenantID: TenantID, clientID: String, sequence: Int64)
    /// Stores a retained message, or a clear, unless the store holds a later one of its topic (by `RetainStamp`);
    /// a clear also removes the tenant's clears kept past `StoredRetained.clearsKeptFor`.
    case putRetained(StoredRetained)
    /// Removes a topic's retained message or clear if it is still the one stamped `stamp` (an expired message).
    case deleteRetained(tenantID: TenantID, topic: String, stamp: RetainStamp)
    /// A device's telemetry, committed in the same batches so that its PUBACK waits for one commit only.
    case appendTelemetry(TelemetryMessage)
    /// A cloud-to-device message enqueued.
    case putCloudToDevice(CloudToDeviceMessage)
    /// A queued cloud-to-device message's lock or delivery count changed; nothing when it is no longer stored
    /// (another node of a cluster settled it meanwhile: it must not come back).
    case updateCloudToDevice(CloudToDeviceMessage)
    /// An HTTPS receive locked a queued message (its `httpsLock`): stored only if no other lock holds the message
    /// at `freeAt` and it is still stored (another node's receive or settlement may have come first).
    case lockCloudToDevice(CloudToDeviceMessage, freeAt: Int64)
    /// A cloud-to-device message left its queue without a feedback record (purged, its device deleted).
    case deleteCloudToDevice(sequence: Int64)
    /// A cloud-to-device message left its queue with a feedback record (completed, dead-lettered, purged), stored
    /// only if this removed the message: of two nodes settling one message, one records its feedback.
    case settleCloudToDevice(sequence: Int64, feedback: CloudToDeviceFeedback)
    /// A twin's section as it now is: only that section is written over (the other stays as the store has it,
    /// which another node of a cluster may have changed meanwhile); a new row takes both.
    case putTwin(DeviceTwin, TwinSection)
    /// The twin of a deleted device.
    case deleteTwin(tenantID: TenantID, deviceID: DeviceID)
}

/// A session that outlives its connection.
public struct StoredSession: Sendable, Equatable {
    public let tenantID: TenantID
    public let clientID: String
    /// Seconds after `disconnectedAt` that the session ends; `UInt32.max` never.
    public let expiryInterval: UInt32
    /// When its last connection ended; nil while connected.
    public let disconnectedAt: Date?
    /// The node of a cluster that holds it (nil for a node alone).
    public let node: String?
    /// Written by the node taking the session (a session stored for the first time, or one moved here): it
    /// replaces whatever another node left, where other writes of the session apply only while the row names
    /// their node (`apply(_:fencedTo:)`). Not stored.
    public let claims: Bool

    public init(
        tenantID: TenantID, clientID: String, expiryInterval: UInt32, disconnectedAt: Date?, node: String? = nil,
        claims: Bool = false
    ) {
        self.tenantID = tenantID
        self.clientID = clientID
        self.expiryInterval = expiryInterval
        self.disconnectedAt = disconnectedAt
        self.node = node
        self.claims = claims
    }
}

/// A stored session's key.
public struct StoredSessionKey: Sendable, Hashable {
    public let tenantID: TenantID
    public let clientID: String

    public init(tenantID: TenantID, clientID: String) {
        self.tenantID = tenantID
        self.clientID = clientID
    }
}

/// One subscription of a stored session.
public struct StoredSubscription: Sendable, Equatable {
    public let tenantID: TenantID
    public let clientID: String
    /// As the client sent it, `$share/…` prefix included.
    public let filter: String
    /// Bits 0–1 QoS, bit 2 No Local, bit 3 Retain As Published: the 5.0 option byte's layout.
    public let options: UInt8
    public let identifier: Int?

    public init(tenantID: TenantID, clientID: String, filter: String, options: UInt8, identifier: Int?) {
        self.tenantID = tenantID
        self.clientID = clientID
        self.filter = filter
        self.options = options
        self.identifier = identifier
    }
}

/// The parts of an application message the store keeps.
public struct StoredPayload: Sendable, Equatable {
    public let topic: String
    public let payload: [UInt8]
    public let qos: UInt8
    /// 5.0 properties in their wire form.
    public let properties: [UInt8]
    /// When it stops being delivered (5.0 Message Expiry Interval), if ever.
    public let expiresAt: Date?

    public init(topic: String, payload: [UInt8], qos: UInt8, properties: [UInt8], expiresAt: Date?) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.properties = properties
        self.expiresAt = expiresAt
    }
}

/// A message queued for, or in flight to, a stored session.
public struct StoredMessage: Sendable, Equatable {
    public let tenantID: TenantID
    public let clientID: String
    /// Orders the session's messages.
    public let sequence: Int64
    public let message: StoredPayload
    /// The QoS it is delivered at (≤ the message's).
    public let deliveryQoS: UInt8
    public let retain: Bool
    public let subscriptionIdentifiers: [Int]
    public let packetID: UInt16?
    /// 0 queued, 1 awaiting PUBACK, 2 awaiting PUBREC, 3 awaiting PUBCOMP.
    public let phase: UInt8

    public init(
        tenantID: TenantID, clientID: String, sequence: Int64, message: StoredPayload, deliveryQoS: UInt8,
        retain: Bool, subscriptionIdentifiers: [Int], packetID: UInt16?, phase: UInt8
    ) {
        self.tenantID = tenantID
        self.clientID = clientID
        self.sequence = sequence
        self.message = message
        self.deliveryQoS = deliveryQoS
        self.retain = retain
        self.subscriptionIdentifiers = subscriptionIdentifiers
        self.packetID = packetID
        self.phase = phase
    }
}

/// A retained message of a tenant, or (an empty payload, as MQTT clears a topic) the clear of its topic, which is
/// kept for `clearsKeptFor` so that an older message from another node that arrives after it does not come back.
public struct StoredRetained: Sendable, Equatable {
    public let tenantID: TenantID
    public let message: StoredPayload
    public let stamp: RetainStamp

    /// How long a clear is kept, in microseconds: far longer than a message takes between nodes, or a node takes to
    /// read the store again after missing other nodes' messages.
    public static let clearsKeptFor: Int64 = 600_000_000

    public init(tenantID: TenantID, message: StoredPayload, stamp: RetainStamp) {
        self.tenantID = tenantID
        self.message = message
        self.stamp = stamp
    }

    public var isClear: Bool { message.payload.isEmpty }

    /// Clears stamped before this time are past keeping (`clearsKeptFor`) when this one is stored.
    var clearsExpireBefore: Int64 { stamp.time > .min + Self.clearsKeptFor ? stamp.time - Self.clearsKeptFor : .min }
}

/// One of a twin's two sections.
public enum TwinSection: Sendable {
    case desired, reported
}

/// Everything `DeviceStateStore` holds.
public struct MQTTStateSnapshot: Sendable {
    public var sessions: [StoredSession] = []
    public var subscriptions: [StoredSubscription] = []
    /// In sequence order per session.
    public var messages: [StoredMessage] = []
    public var retained: [StoredRetained] = []

    public init() {}
}

extension DeviceStateChange {
    /// `changes` without the puts and updates of messages (MQTT session messages, cloud-to-device messages) that
    /// a later change of the same batch deletes: applying what is left changes the store exactly as applying
    /// all of them would. A QoS 1 message that a connected subscriber acknowledged while the previous batch was
    /// committing then costs one statement rather than three (queued, sent, acknowledged). A put that would have
    /// broken a schema rule (a message of a session the store does not hold: a bug) is left out with the rest,
    /// rather than refused and counted. A settlement with a feedback record (`settleCloudToDevice`) keeps what
    /// comes before it: its record is stored only if it finds the message.
    public static func withoutSuperseded(_ changes: [DeviceStateChange]) -> [DeviceStateChange] {
        let deletes = changes.contains { change in
            switch change {
            case .deleteMessage, .deleteCloudToDevice: true
            default: false
            }
        }
        guard deletes else { return changes }
        // From the last change back: each put or update meets the deletes that come after it.
        var deletedMessages = Set<SessionMessageKey>()
        var deletedCloudToDevice = Set<Int64>()
        var kept: [DeviceStateChange] = []
        kept.reserveCapacity(changes.count)
        for change in changes.reversed() {
            switch change {
            case .deleteMessage(let tenantID, let clientID, let sequence):
                deletedMessages.insert(SessionMessageKey(tenantID: tenantID, clientID: clientID, sequence: sequence))
            case .putMessage(let message)
            where deletedMessages.contains(
                SessionMessageKey(tenantID: message.tenantID, clientID: message.clientID, sequence: message.sequence)):
                continue
            case .updateMessage(let tenantID, let clientID, let sequence, _, _)
            where deletedMessages.contains(
                SessionMessageKey(tenantID: tenantID, clientID: clientID, sequence: sequence)):
                continue
            case .deleteCloudToDevice(let sequence):
                deletedCloudToDevice.insert(sequence)
            case .settleCloudToDevice(let sequence, _):
                deletedCloudToDevice.remove(sequence)
            case .putCloudToDevice(let message) where deletedCloudToDevice.contains(message.sequenceNumber):
                continue
            case .updateCloudToDevice(let message) where deletedCloudToDevice.contains(message.sequenceNumber):
                continue
            case .lockCloudToDevice(let message, _) where deletedCloudToDevice.contains(message.sequenceNumber):
                continue
            default:
                break
            }
            kept.append(change)
        }
        kept.reverse()
        return kept
    }

    /// The session a change of MQTT session state is about; nil for other changes.
    var session: StoredSessionKey? {
        switch self {
        case .putSession(let session): StoredSessionKey(tenantID: session.tenantID, clientID: session.clientID)
        case .putSubscription(let subscription):
            StoredSessionKey(tenantID: subscription.tenantID, clientID: subscription.clientID)
        case .putMessage(let message): StoredSessionKey(tenantID: message.tenantID, clientID: message.clientID)
        case .deleteSession(let tenantID, let clientID), .deleteSubscription(let tenantID, let clientID, _),
            .updateMessage(let tenantID, let clientID, _, _, _), .deleteMessage(let tenantID, let clientID, _):
            StoredSessionKey(tenantID: tenantID, clientID: clientID)
        default: nil
        }
    }

    /// The sessions whose changes in `changes` apply only while their row names the writing node: every session
    /// changed but not claimed in the batch (a claim makes all of its session's changes in the batch the
    /// claimer's, the clearing of what another node left included).
    public static func sessionsToFence(_ changes: [DeviceStateChange]) -> Set<StoredSessionKey> {
        var changed = Set<StoredSessionKey>()
        var claimed = Set<StoredSessionKey>()
        for change in changes {
            guard let key = change.session else { continue }
            changed.insert(key)
            if case .putSession(let session) = change, session.claims { claimed.insert(key) }
        }
        return changed.subtracting(claimed)
    }

    /// `changes` without those of the sessions in `fenced`.
    public static func without(_ fenced: Set<StoredSessionKey>, _ changes: [DeviceStateChange]) -> [DeviceStateChange] {
        guard !fenced.isEmpty else { return changes }
        return changes.filter { change in change.session.map { !fenced.contains($0) } ?? true }
    }

    /// Which stored session message a change is about.
    private struct SessionMessageKey: Hashable {
        let tenantID: TenantID
        let clientID: String
        let sequence: Int64
    }
}
