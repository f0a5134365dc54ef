import Foundation
import NIOCore
import WardenCore
import WardenMQTT
import WardenStore

/// Conversions between the broker's values and the store's: wall-clock expiry on the way out (monotonic
/// deadlines do not survive a restart), validated values on the way back.
extension BrokerPersistence {
    func stored(_ message: BrokerMessage, now: NIODeadline) -> StoredPayload {
        var properties = message.properties
        properties.subscriptionIdentifiers = []
        let expiresAt = message.expiresAt.map { deadline in
            clock.now().addingTimeInterval(Double((deadline - now).nanoseconds) / 1e9)
        }
        return StoredPayload(
            topic: message.topic, payload: Array(message.payload.readableBytesView), qos: message.qos.rawValue,
            properties: properties.publishBlock, expiresAt: expiresAt)
    }

    func stored(_ delivery: Delivery, of key: SessionKey, packetID: UInt16?, phase: UInt8, now: NIODeadline)
        -> DeviceStateChange?
    {
        guard let sequence = delivery.sequence else { return nil }
        return .putMessage(
            StoredMessage(
                tenantID: key.tenantID, clientID: key.clientID, sequence: sequence,
                message: stored(delivery.message, now: now), deliveryQoS: delivery.qos.rawValue,
                retain: delivery.retain, subscriptionIdentifiers: delivery.subscriptionIdentifiers, packetID: packetID,
                phase: phase))
    }

    /// A stored message back as the broker's; nil when its properties no longer decode.
    func message(_ stored: StoredPayload, retain: Bool, now: NIODeadline) -> BrokerMessage? {
        guard let properties = try? Properties(publishBlock: stored.properties),
            let qos = QoS(rawValue: stored.qos)
        else { return nil }
        var withExpiry = properties
        if let expiresAt = stored.expiresAt {
            // Read from the file: any Double, infinities included, must clamp rather than trap.
            let left = expiresAt.timeIntervalSince(clock.now()).rounded(.down)
            withExpiry.messageExpiryInterval = UInt32(exactly: left) ?? (left > 0 ? .max : 0)
        }
        return BrokerMessage(
            topic: stored.topic, payload: ByteBuffer(bytes: stored.payload), qos: qos, retain: retain,
            properties: withExpiry, receivedAt: now, publisher: nil)
    }

    func subscription(_ key: SessionKey, _ filter: TopicFilter, _ options: SubscriptionOptions) -> DeviceStateChange {
        let bits = options.qos.rawValue | (options.noLocal ? 0x04 : 0) | (options.retainAsPublished ? 0x08 : 0)
        return .putSubscription(
            StoredSubscription(
                tenantID: key.tenantID, clientID: key.clientID, filter: filter.rawValue, options: bits,
                identifier: options.identifier))
    }

    /// The session's row; `claims` when this node takes it (stores it for the first time).
    func session(_ key: SessionKey, expiry: UInt32, disconnected: Bool, claims: Bool = false) -> DeviceStateChange {
        .putSession(
            StoredSession(
                tenantID: key.tenantID, clientID: key.clientID, expiryInterval: expiry,
                disconnectedAt: disconnected ? clock.now() : nil, node: node, claims: claims))
    }

    /// Deletes what is stored under `key` whichever node's it is: claimed first, so that a node of a cluster
    /// may clear what another node left there.
    func clearing(_ key: SessionKey) -> [DeviceStateChange] {
        [
            session(key, expiry: 0, disconnected: true, claims: true),
            .deleteSession(tenantID: key.tenantID, clientID: key.clientID),
        ]
    }
}

extension OutboundFlow.Phase {
    /// The store's number for the phase (0 is queued).
    var stored: UInt8 {
        switch self {
        case .awaitingPuback: 1
        case .awaitingPubrec: 2
        case .awaitingPubcomp: 3
        }
    }

    init?(stored: UInt8) {
        switch stored {
        case 1: self = .awaitingPuback
        case 2: self = .awaitingPubrec
        case 3: self = .awaitingPubcomp
        default: return nil
        }
    }
}
