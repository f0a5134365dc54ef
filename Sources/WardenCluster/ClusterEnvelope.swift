public import Foundation
public import NIOCore
public import WardenBroker
public import WardenCore
import WardenMQTT

/// One routed message between nodes: which node sent it and its number there (to drop the copies NATS
/// delivers when several of a node's subscriptions match), a retained message's stamp time (its `RetainStamp`
/// with the origin; 0 for others), the tenant, the shared groups the sending node's members served, and the
/// message as a 5.0 PUBLISH (WardenMQTT's codec, so topic, properties and payload are checked by the parser the
/// broker trusts).
///
///     version (1) | origin node (16) | sequence (8, big-endian) | stamp time (8, big-endian) | tenant length (2)
///     | tenant | served group count (2) | served groups (16 each) | PUBLISH
///
/// Nodes of one cluster run one envelope version: another version reads as nothing (counted as unreadable).
public struct ClusterEnvelope: Sendable {
    public let origin: UUID
    public let sequence: UInt64
    /// When a retained message was published, by its node's `RetainClock`.
    public let retainedAt: Int64
    public let tenantID: TenantID
    public let servedGroups: [ClusterGroupID]
    public let message: BrokerMessage

    static let version: UInt8 = 3
    static let maximumServedGroups = 65_535
    /// Where the sequence stands in the bytes (after the version and the origin).
    static let sequenceOffset = 17

    /// A retained message's stamp: its time and origin.
    public var stamp: RetainStamp { RetainStamp(time: retainedAt, node: origin) }

    /// Numbers encoded bytes: the sender numbers each envelope as it hands it to NATS, in that order.
    static func setSequence(_ sequence: UInt64, in bytes: inout ByteBuffer) {
        bytes.setInteger(sequence, at: bytes.readerIndex + sequenceOffset)
    }

    public init(
        origin: UUID, sequence: UInt64, retainedAt: Int64 = 0, tenantID: TenantID, servedGroups: [ClusterGroupID] = [],
        message: BrokerMessage
    ) {
        self.origin = origin
        self.sequence = sequence
        self.retainedAt = retainedAt
        self.tenantID = tenantID
        self.servedGroups = servedGroups
        self.message = message
    }

    /// The envelope's bytes; nil when the message cannot be written as a PUBLISH (the broker refuses such
    /// topics and properties before routing, so this is a dropped message, counted by the caller).
    public func encoded(now: NIODeadline, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer? {
        var buffer = allocator.buffer(capacity: 64 + message.topic.utf8.count + message.payload.readableBytes)
        buffer.writeInteger(Self.version)
        withUnsafeBytes(of: origin.uuid) { _ = buffer.writeBytes($0) }
        buffer.writeInteger(sequence)
        buffer.writeInteger(retainedAt)
        buffer.writeInteger(UInt16(truncatingIfNeeded: tenantID.rawValue.utf8.count))
        buffer.writeString(tenantID.rawValue)
        // More served groups than a count holds are not named (those groups' members elsewhere may then get it
        // too).
        let named = servedGroups.prefix(Self.maximumServedGroups)
        buffer.writeInteger(UInt16(truncatingIfNeeded: named.count))
        for group in named { buffer.writeBytes(group.bytes) }
        do {
            try MQTTEncoder.encode(.publish(message.packetForCluster(now: now)), version: .v5, into: &buffer)
        } catch {
            return nil
        }
        return buffer
    }

    /// Reads an envelope another node sent; nil for anything else, whatever the bytes.
    public init?(decoding bytes: ByteBuffer, maximumPacketSize: Int, now: NIODeadline) {
        var buffer = bytes
        guard buffer.readInteger(as: UInt8.self) == Self.version,
            let originBytes = buffer.readBytes(length: 16),
            let sequence = buffer.readInteger(as: UInt64.self),
            let retainedAt = buffer.readInteger(as: Int64.self),
            let tenantLength = buffer.readInteger(as: UInt16.self),
            let tenantText = buffer.readString(length: Int(truncatingIfNeeded: tenantLength)),
            let tenantID = try? TenantID(tenantText),
            let servedCount = buffer.readInteger(as: UInt16.self)
        else { return nil }
        var servedGroups: [ClusterGroupID] = []
        for _ in 0..<servedCount {
            guard let bytes = buffer.readBytes(length: ClusterGroupID.length), let group = ClusterGroupID(bytes: bytes)
            else { return nil }
            servedGroups.append(group)
        }
        // The sending node applied its own limits; only the size is bounded again here.
        var limits = DecodingLimits.protocolMaximum
        limits.maximumPacketSize = maximumPacketSize
        // A topic to route on: never empty (a sender's topic alias means nothing here) nor a filter.
        guard case .publish(let publish)? = try? MQTTDecoder.decode(&buffer, version: .v5, limits: limits),
            buffer.readableBytes == 0, TopicName.isValid(publish.topic), publish.properties.topicAlias == nil
        else { return nil }
        let origin = originBytes.withUnsafeBytes { raw in
            UUID(uuid: raw.loadUnaligned(as: uuid_t.self))
        }
        self.init(
            origin: origin, sequence: sequence, retainedAt: retainedAt, tenantID: tenantID, servedGroups: servedGroups,
            message: BrokerMessage(
                topic: publish.topic, payload: publish.payload, qos: publish.qos, retain: publish.retain,
                properties: publish.properties, receivedAt: now))
    }
}
