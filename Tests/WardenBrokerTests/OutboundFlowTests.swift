import NIOCore
import Testing
import WardenMQTT

@testable import WardenBroker

/// The server-to-client window and queue without sockets.
struct OutboundFlowTests {
    let now = NIODeadline.uptimeNanoseconds(1_000_000_000)

    private func delivery(_ topic: String = "t", qos: QoS = .atLeastOnce, expiry: UInt32? = nil) -> Delivery {
        var properties = Properties()
        properties.messageExpiryInterval = expiry
        let message = BrokerMessage(
            topic: topic, payload: ByteBuffer(string: "x"), qos: qos, retain: false, properties: properties,
            receivedAt: now, publisher: nil)
        return Delivery(message: message, qos: qos, retain: false, subscriptionIdentifiers: [])
    }

    private func flow(inflight: Int = 2, queued: Int = 3) -> OutboundFlow {
        OutboundFlow(limits: .init(maximumInflight: inflight, maximumQueuedMessages: queued, maximumQueuedBytes: 1000))
    }

    private func packetIDs(_ packets: [MQTTPacket]) -> [UInt16] {
        packets.compactMap { if case .publish(let publish) = $0 { publish.packetID } else { nil } }
    }

    @Test func offlineQoS1QueuesAndQoS0IsNotKept() {
        var flow = flow()
        guard case .queued = flow.offer(delivery(), now: now) else {
            Issue.record("not queued")
            return
        }
        guard case .dropped(.offlineQoS0) = flow.offer(delivery(qos: .atMostOnce), now: now) else {
            Issue.record("QoS 0 kept offline")
            return
        }
        #expect(flow.queuedCount == 1)
    }

    @Test func windowLimitsInflightAndAcknowledgementsReleaseTheQueueInOrder() {
        var flow = flow()
        _ = flow.resume(receiveMaximum: 10, now: now)
        var sent: [UInt16] = []
        for _ in 0..<4 {
            if case .send(let publish) = flow.offer(delivery(), now: now) { sent.append(publish.packetID ?? 0) }
        }
        #expect(sent == [1, 2])
        #expect(flow.queuedCount == 2)
        #expect(packetIDs(flow.acknowledge(.puback, packetID: 1, now: now) ?? []) == [3])
        #expect(flow.acknowledge(.puback, packetID: 1, now: now) == nil)
        #expect(packetIDs(flow.acknowledge(.puback, packetID: 2, now: now) ?? []) == [4])
    }

    @Test func clientReceiveMaximumNarrowsTheWindow() {
        var flow = flow(inflight: 10)
        _ = flow.resume(receiveMaximum: 1, now: now)
        guard case .send = flow.offer(delivery(), now: now), case .queued = flow.offer(delivery(), now: now) else {
            Issue.record("window not narrowed")
            return
        }
    }

    @Test func qos2GoesThroughPubrecPubrelPubcomp() {
        var flow = flow()
        _ = flow.resume(receiveMaximum: 10, now: now)
        guard case .send(let publish) = flow.offer(delivery(qos: .exactlyOnce), now: now) else {
            Issue.record("not sent")
            return
        }
        let id = publish.packetID ?? 0
        #expect(flow.acknowledge(.puback, packetID: id, now: now) == nil)
        #expect(
            flow.acknowledge(.pubrec, packetID: id, now: now) == [.publishAck(PublishAckPacket(.pubrel, packetID: id))])
        #expect(flow.acknowledge(.pubcomp, packetID: id, now: now) == [])
        #expect(flow.inflight.isEmpty)
    }

    @Test func resumeResendsTheWindowWithDupThenPubrelThenTheQueue() {
        var flow = flow()
        _ = flow.resume(receiveMaximum: 10, now: now)
        _ = flow.offer(delivery(), now: now)
        _ = flow.offer(delivery(qos: .exactlyOnce), now: now)
        _ = flow.acknowledge(.pubrec, packetID: 2, now: now)
        flow.suspend()
        _ = flow.offer(delivery(), now: now)
        let packets = flow.resume(receiveMaximum: 10, now: now)
        guard packets.count == 2, case .publish(let first) = packets[0], case .publishAck(let pubrel) = packets[1]
        else {
            Issue.record("unexpected \(packets)")
            return
        }
        #expect(first.dup && first.packetID == 1)
        #expect(pubrel.kind == .pubrel && pubrel.packetID == 2)
        #expect(flow.queuedCount == 1)
    }

    @Test func queueLimitsDropAndCount() {
        var flow = flow(queued: 1)
        _ = flow.offer(delivery(), now: now)
        guard case .dropped(.queueFull) = flow.offer(delivery(), now: now) else {
            Issue.record("not dropped")
            return
        }
        var bytes = OutboundFlow(limits: .init(maximumInflight: 1, maximumQueuedMessages: 10, maximumQueuedBytes: 3))
        guard case .dropped(.queueBytes) = bytes.offer(delivery("long-topic"), now: now) else {
            Issue.record("not dropped by bytes")
            return
        }
    }

    @Test func expiredMessagesAreNotSentAndTheRemainingIntervalIsTold() {
        var flow = flow()
        _ = flow.offer(delivery(expiry: 10), now: now)
        _ = flow.offer(delivery(expiry: 100), now: now)
        let packets = flow.resume(receiveMaximum: 10, now: now + .seconds(40))
        guard packets.count == 1, case .publish(let publish) = packets[0] else {
            Issue.record("unexpected \(packets)")
            return
        }
        #expect(publish.properties.messageExpiryInterval == 60)
        #expect(flow.takeDrops() == [.expired])
    }

    @Test func theRemainingIntervalIsRoundedUpSoThatALiveMessageNeverSaysZero() {
        var flow = flow()
        _ = flow.offer(delivery(expiry: 10), now: now)
        guard case .publish(let publish) = flow.resume(receiveMaximum: 10, now: now + .milliseconds(9_500)).first
        else {
            Issue.record("not sent")
            return
        }
        #expect(publish.properties.messageExpiryInterval == 1)
    }

    @Test func messagesLargerThanTheClientsMaximumAreDroppedNotSent() {
        var flow = flow()
        _ = flow.offer(delivery("queued-while-away-with-a-long-topic"), now: now)
        _ = flow.resume(receiveMaximum: 10, maximumPacketSize: 20, now: now)
        #expect(flow.takeDrops() == [.tooLargeForClient])
        guard case .dropped(.tooLargeForClient) = flow.offer(delivery("another-long-topic-name"), now: now) else {
            Issue.record("sent")
            return
        }
        guard case .send = flow.offer(delivery("t"), now: now) else {
            Issue.record("small message not sent")
            return
        }
    }

    @Test func packetIdentifiersSkipThoseInUseAndNeverZero() {
        var flow = OutboundFlow(limits: .init(maximumInflight: 3, maximumQueuedMessages: 0, maximumQueuedBytes: 0))
        _ = flow.resume(receiveMaximum: 3, now: now)
        var ids: Set<UInt16> = []
        for round in 0..<70_000 {
            guard case .send(let publish) = flow.offer(delivery(), now: now), let id = publish.packetID else {
                Issue.record("round \(round) not sent")
                return
            }
            ids.insert(id)
            if round % 2 == 0 { _ = flow.acknowledge(.puback, packetID: id, now: now) }
            if flow.inflight.count == 3, let oldest = flow.inflight.first {
                _ = flow.acknowledge(.puback, packetID: oldest.packetID, now: now)
            }
        }
        #expect(ids.count == 65_535 && !ids.contains(0))
    }
}

/// What reaches subscribers of a message (5.0 §3.3.2.3).
struct BrokerMessageTests {
    @Test func onlyForwardablePropertiesReachSubscribers() {
        var properties = Properties()
        properties.willDelayInterval = 5
        properties.topicAlias = 3
        properties.contentType = "text/plain"
        properties.userProperties = [UserProperty("k", "v")]
        properties.sessionExpiryInterval = 9
        let message = BrokerMessage(
            topic: "t", payload: ByteBuffer(), qos: .atMostOnce, retain: false, properties: properties,
            receivedAt: .now(), publisher: nil)
        var expected = Properties()
        expected.contentType = "text/plain"
        expected.userProperties = [UserProperty("k", "v")]
        expected.subscriptionIdentifiers = [4]
        #expect(
            message.packet(qos: .atMostOnce, packetID: nil, retain: false, subscriptionIdentifiers: [4], now: .now())
                .properties == expected)
    }
}
