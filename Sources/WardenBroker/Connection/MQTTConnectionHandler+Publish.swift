import Logging
import NIOCore
import WardenAuthentication
import WardenAzure
import WardenCore
import WardenMQTT
import WardenPolicy

/// PUBLISH from the client: authorize, route, acknowledge (QoS 1 PUBACK, QoS 2 PUBREC) once durable.
extension MQTTConnectionHandler {
    /// A payload as a message keeps it. From 1 KiB to 8 KiB it is copied out of the read buffer it arrived in: a
    /// slice would keep that whole buffer (16 KiB under load) alive while the message is in flight or queued, and
    /// NIO would read into a fresh one, which glibc serves from `mmap` at that size (`MemoryTuning`). Smaller
    /// payloads share it (a copy each would cost more than the buffer), larger ones are mapped either way.
    static func kept(_ payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        guard (1024...8192).contains(payload.readableBytes) else { return payload }
        return allocator.buffer(buffer: payload)
    }

    func handlePublish(_ publish: PublishPacket, context: ChannelHandlerContext) {
        guard let connection else { return }
        activity?.count(publish)
        // 5.0: a client past the Receive Maximum the CONNACK gave it ([MQTT-3.3.4-9]); 3.1.1 has none, and
        // `updateCommitBacklog` stops reading from it instead.
        if publish.qos != .atMostOnce, connection.version == .v5, acksAwaitingCommit.count >= receiveMaximum {
            perform(
                machine.fail(.receiveMaximumExceeded, "More than \(receiveMaximum) messages unacknowledged."),
                context: context)
            return
        }
        // Azure's dialect has no QoS 2: such a PUBLISH closes the connection, as IoT Hub does (anchors.md §1.3).
        if publish.qos == .exactlyOnce, connection.identity.deviceIdentity?.dialect == .azure {
            log(.info, "Closed a connection: QoS 2 PUBLISH in the Azure dialect.")
            perform(machine.fail(.qosNotSupported, "QoS 2 is not supported."), context: context)
            return
        }
        let decision = authorizePublish(
            connection.identity, publish.topic, payloadSize: publish.payload.readableBytes,
            messageRate: publishRate.count(at: context.eventLoop.now))
        guard decision.isAllowed else {
            log(.info, "Denied a publish.", metadata: decision.metadata)
            recordDenial(decision, .topic(publish.topic))
            denyPublish(publish, decision, version: connection.version, context: context)
            return
        }
        if let registration = connection.identity.registration {
            return publishRegistration(publish, from: registration, sink: connection.sink, context: context)
        }
        let now = context.eventLoop.now
        let message = BrokerMessage(
            topic: publish.topic, payload: Self.kept(publish.payload, allocator: context.channel.allocator),
            qos: publish.qos, retain: publish.retain, properties: publish.properties, receivedAt: now,
            publisher: connection.session.key)
        let published =
            if let device = connection.identity.deviceIdentity {
                services.broker.publish(message, from: device.sender, now: now)
            } else {
                services.broker.publish(message, in: connection.identity.tenantID, now: now).published
            }
        if let refusal = published.refusal {
            log(.info, "Refused a publish.", metadata: ["topic": "\(publish.topic)", "reason": "\(refusal.why)"])
            // 3.1.1 cannot say no: a message the hub cannot take ends the connection (Azure does the same).
            if refusal.code == .topicNameInvalid, connection.version == .v311 {
                perform(machine.fail(.topicNameInvalid, nil), context: context)
                return
            }
        }
        guard let packetID = publish.packetID else {
            if let ticket = published.ticket { awaitCommit(ofUnacknowledged: ticket, context: context) }
            return
        }
        // 5.0 says why (a retained message over the tenant's limit: Quota exceeded) or that nothing took it.
        let reason: ReasonCode =
            connection.version == .v311
            ? .success : published.refusal?.code ?? (published.wasTaken ? .success : .noMatchingSubscribers)
        if publish.qos == .exactlyOnce, reason.isFailure { machine.inboundRefused(packetID: packetID) }
        let kind: PublishAckPacket.Kind = publish.qos == .atLeastOnce ? .puback : .pubrec
        acknowledgeInOrder(
            PublishAckPacket(kind, packetID: packetID, reasonCode: reason), ticket: published.ticket,
            context: context)
    }

    /// A provisioning request: acknowledged at once (answering it is idempotent), answered by the gateway on
    /// `$dps/registrations/res/{status}/?$rid=…` to this connection alone. One at a time: a request that comes
    /// while the previous one is answered gets 429 at once, so that a client cannot queue answers (each holding
    /// its body) faster than they are made.
    private func publishRegistration(
        _ publish: PublishPacket, from identity: RegistrationIdentity, sink: ChannelSink, context: ChannelHandlerContext
    ) {
        if let packetID = publish.packetID {
            let kind: PublishAckPacket.Kind = publish.qos == .atLeastOnce ? .puback : .pubrec
            send(.publishAck(PublishAckPacket(kind, packetID: packetID)))
        }
        guard let request = ProvisioningRequest(topic: publish.topic), let gateway = services.broker.provisioning
        else { return }
        let respond: @Sendable (ProvisioningAnswer) -> Void = { answer in
            sink.send(
                .publish(
                    PublishPacket(
                        qos: .atMostOnce,
                        topic: ProvisioningRequest.responseTopic(
                            status: answer.status, requestID: request.requestID, retryAfter: answer.retryAfter),
                        payload: ByteBuffer(bytes: answer.body))))
        }
        guard !isAnsweringRegistration else { return respond(gateway.oneAtATime()) }
        isAnsweringRegistration = true
        let body = Array(publish.payload.readableBytesView)
        let peer = peerAddress
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        Task {
            respond(await gateway.answer(request, body: body, from: identity, peer: peer))
            eventLoop.execute { handler.value.isAnsweringRegistration = false }
        }
    }

    /// Sends a PUBACK or PUBREC once the state its message changed is committed (`ticket`), never ahead of an
    /// earlier one still waiting: acknowledgements leave in the order the PUBLISHes came ([MQTT-4.6.0-2]).
    func acknowledgeInOrder(_ ack: PublishAckPacket, ticket: UInt64?, context: ChannelHandlerContext) {
        guard let persistence = services.broker.persistence, ticket != nil || !acksAwaitingCommit.isEmpty else {
            send(.publishAck(ack))
            return
        }
        let ticket = max(ticket ?? 0, acksAwaitingCommit.last?.ticket ?? 0)
        acksAwaitingCommit.append((ack, ticket))
        updateCommitBacklog(context)
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        persistence.whenCommitted(ticket) {
            eventLoop.execute {
                bound.value.handler.releaseAcknowledgements(upTo: ticket, context: bound.value.context)
            }
        }
    }

    private func releaseAcknowledgements(upTo ticket: UInt64, context: ChannelHandlerContext) {
        var ready: [MQTTPacket] = []
        while let first = acksAwaitingCommit.first, first.ticket <= ticket {
            ready.append(.publishAck(first.ack))
            acksAwaitingCommit.removeFirst()
        }
        send(ready)
        updateCommitBacklog(context)
    }

    /// Counts a QoS 0 message that changed the store (telemetry): nothing is sent when it commits, so it is
    /// followed in batches of the Receive Maximum, one commit waiter each rather than one per message.
    private func awaitCommit(ofUnacknowledged ticket: UInt64, context: ChannelHandlerContext) {
        unacknowledgedSinceWaiter += 1
        guard unacknowledgedSinceWaiter >= receiveMaximum, let persistence = services.broker.persistence else { return }
        let batch = unacknowledgedSinceWaiter
        unacknowledgedSinceWaiter = 0
        unacknowledgedAwaitingCommit += batch
        updateCommitBacklog(context)
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        persistence.whenCommitted(ticket) {
            eventLoop.execute {
                bound.value.handler.unacknowledgedAwaitingCommit -= batch
                bound.value.handler.updateCommitBacklog(bound.value.context)
            }
        }
    }

    /// A store that falls behind (a slow disk, PostgreSQL away), or a client publishing faster than it commits,
    /// must not grow what waits for the commit: past the Receive Maximum of acknowledgements (a 3.1.1 client's;
    /// a 5.0 one is closed first) or four times as many QoS 0 messages, nothing more is read from the client
    /// until half of them are committed; meanwhile its keep-alive does not run out (`tickFired`).
    private func updateCommitBacklog(_ context: ChannelHandlerContext) {
        let acks = acksAwaitingCommit.count
        let unacknowledged = unacknowledgedAwaitingCommit
        if !isCommitBlocked, acks > receiveMaximum || unacknowledged > 4 * receiveMaximum {
            isCommitBlocked = true
            services.broker.metrics.hit(.awaitingCommit)
            updateReading(context)
        } else if isCommitBlocked, acks <= receiveMaximum / 2, unacknowledged <= 2 * receiveMaximum {
            isCommitBlocked = false
            // The keep-alive counts from here: what the client sent meanwhile waited unread.
            machine.resumed(now: context.eventLoop.now)
            updateReading(context)
        }
    }

    /// The listener's Receive Maximum: PUBLISHes a client may have unacknowledged.
    var receiveMaximum: Int {
        // total: widens a UInt16.
        Int(machine.settings.limits.receiveMaximum)
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
        guard version == .v5 else {
            acknowledgeInOrder(PublishAckPacket(kind, packetID: packetID), ticket: nil, context: context)
            return
        }
        if publish.qos == .exactlyOnce { machine.inboundRefused(packetID: packetID) }
        var properties = Properties()
        properties.reasonString = "Not authorized (reference \(decision.referenceID))."
        acknowledgeInOrder(
            PublishAckPacket(kind, packetID: packetID, reasonCode: .notAuthorized, properties: properties),
            ticket: nil, context: context)
    }
}
