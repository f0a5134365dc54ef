import NIOCore

/// UNSUBSCRIBE (3.1.1 §3.10, 5.0 §3.10).
public struct UnsubscribePacket: Sendable, Hashable {
    public var packetID: UInt16
    public var properties: Properties
    public var filters: [TopicFilter]

    public init(packetID: UInt16, properties: Properties = Properties(), filters: [TopicFilter]) {
        self.packetID = packetID
        self.properties = properties
        self.filters = filters
    }

    static func decode(_ body: inout ByteBuffer, version: ProtocolVersion, limits: DecodingLimits)
        throws(MQTTDecodingError) -> UnsubscribePacket
    {
        let packetID = try body.readMQTTPacketIdentifier()
        let properties =
            version == .v5
            ? try Properties.read(from: &body, place: .packet(.unsubscribe), limits: limits) : Properties()
        let filters = try body.readMQTTFilters(of: "unsubscribe", limits: limits) { filter, _ in filter }
        return UnsubscribePacket(packetID: packetID, properties: properties, filters: filters)
    }

    func encode(_ body: inout ByteBuffer, version: ProtocolVersion) throws(MQTTEncodingError) {
        body.writeInteger(packetID)
        if version == .v5 { try properties.write(to: &body) }
        for filter in filters { try body.writeMQTTString(filter.rawValue) }
    }
}
