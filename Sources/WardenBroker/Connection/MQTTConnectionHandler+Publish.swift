import Logging
import NIOCore
import WardenCore
import WardenMQTT

/// PUBLISH from the client: authorize, route, acknowledge (QoS 1 PUBACK, QoS 2 PUBREC).
extension MQTTConnectionHandler {
    func handlePublish(_ publish: PublishPacket, context: ChannelHandlerContext) {
        guard let connection else { return }
        let decision = authorize(connection.identity, .publish, publish.topic)
        guard decision.isAllowed else {
            logger.info("Denied a publish.", metadata: decision.metadata)
            denyPublish(publish, decision, version: connection.version, context: context)
            return
        }
        let now = NIODeadline.now()
        let message = BrokerMessage(
            topic: publish.topic, payload: publish.payload, qos: publish.qos, retain: publish.retain,
            properties: publish.properties, receivedAt: now, publisher: connection.session.key)
        let accepted = services.broker.publish(message, in: connection.identity.tenantID, now: now)
        guard let packetID = publish.packetID else { return }
        // 5.0: a retained message over the tenant's limit is refused with Quota exceeded.
        let reason: ReasonCode = accepted || connection.version == .v311 ? .success : .quotaExceeded
        if publish.qos == .exactlyOnce, reason.isFailure { machine.inboundRefused(packetID: packetID) }
        send([
            .publishAck(
                PublishAckPacket(
                    publish.qos == .atLeastOnce ? .puback : .pubrec, packetID: packetID, reasonCode: reason))
        ])
    }

    /// 5.0: the acknowledgement carries 0x87 and the reference id. 3.1.1 has no way to say no: the connection
    /// closes, or (configured) the message is acknowledged and dropped.
    private func denyPublish(
        _ publish: PublishPacket, _ decision: Decision, version: ProtocolVersion, context: ChannelHandlerContext
    ) {
        if version == .v311, services.listener.closeOnDeniedPublish {
            perform(machine.fail(.notAuthorized, nil), context: context)
            return
        }
        guard let packetID = publish.packetID else { return }
        let kind: PublishAckPacket.Kind = publish.qos == .atLeastOnce ? .puback : .pubrec
        if version == .v311 {
            send([.publishAck(PublishAckPacket(kind, packetID: packetID))])
            return
        }
        if publish.qos == .exactlyOnce { machine.inboundRefused(packetID: packetID) }
        var properties = Properties()
        properties.reasonString = "Not authorized (reference \(decision.referenceID))."
        send([
            .publishAck(PublishAckPacket(kind, packetID: packetID, reasonCode: .notAuthorized, properties: properties))
        ])
    }
}
