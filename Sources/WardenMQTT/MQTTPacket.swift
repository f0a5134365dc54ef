/// Every MQTT control packet, as a value.
public enum MQTTPacket: Sendable, Hashable {
    /// Boxed: CONNECT is rare and the largest packet, and every other case would otherwise be as large as it.
    indirect case connect(ConnectPacket)
    case connack(ConnAckPacket)
    case publish(PublishPacket)
    /// PUBACK, PUBREC, PUBREL or PUBCOMP.
    case publishAck(PublishAckPacket)
    case subscribe(SubscribePacket)
    case suback(SubAckPacket)
    case unsubscribe(UnsubscribePacket)
    case unsuback(SubAckPacket)
    case pingreq
    case pingresp
    case disconnect(ReasonPacket)
    /// MQTT 5.0 only.
    case auth(ReasonPacket)

    /// The packet's type.
    public var type: PacketType {
        switch self {
        case .connect: .connect
        case .connack: .connack
        case .publish: .publish
        case .publishAck(let ack): ack.kind.packetType
        case .subscribe: .subscribe
        case .suback: .suback
        case .unsubscribe: .unsubscribe
        case .unsuback: .unsuback
        case .pingreq: .pingreq
        case .pingresp: .pingresp
        case .disconnect: .disconnect
        case .auth: .auth
        }
    }
}
