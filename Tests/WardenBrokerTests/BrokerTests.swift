import Foundation
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
import WardenCore
import WardenMQTT
import WardenPolicy

@testable import WardenBroker

/// Routing, sessions, retained messages, wills and shared subscriptions, with connections replaced by
/// recorders (the real connection is covered by the interop tests).
struct BrokerTests {
    final class Recorder: ConnectionSink {
        private let state = Mutex<(packets: [MQTTPacket], closed: ReasonCode?)>(([], nil))
        let identity: ClientIdentity
        let peerAddress: IPAddress
        var policyContext: PolicyContext { PolicyContext(peerAddress: peerAddress) }

        init(peerAddress: IPAddress, identity: ClientIdentity = .anonymous(.defaultTenant, .publishSubscribe)) {
            self.peerAddress = peerAddress
            self.identity = identity
        }

        func send(_ packets: [MQTTPacket]) { state.withLock { $0.packets += packets } }
        func close(_ reason: ReasonCode, reasonString: String?) { state.withLock { $0.closed = reason } }
        func caughtUp() -> EventLoopFuture<Void>? { nil }

        var packets: [MQTTPacket] { state.withLock { $0.packets } }
        var closedWith: ReasonCode? { state.withLock { $0.closed } }
        var publishes: [PublishPacket] {
            packets.compactMap { if case .publish(let publish) = $0 { publish } else { nil } }
        }
    }

    let loop = EmbeddedEventLoop()
    let broker: Broker
    let now = NIODeadline.now()
    let tenant = TenantID.defaultTenant

    init() {
        var configuration = Broker.Configuration()
        configuration.maximumSubscriptionsPerSession = 3
        configuration.maximumRetainedPerTenant = 2
        broker = Broker(configuration: configuration, timers: loop)
    }

    func connect(_ clientID: String, tenant: TenantID = .defaultTenant, clean: Bool = true, expiry: UInt32 = 0)
        -> (Session, Recorder, Bool)
    {
        guard let loopback = IPAddress("127.0.0.1") else { fatalError("127.0.0.1 does not parse") }
        let recorder = Recorder(peerAddress: loopback)
        let attachment = broker.open(
            SessionKey(tenantID: tenant, clientID: clientID), cleanStart: clean, expiryInterval: expiry,
            receiveMaximum: 10, sink: recorder, now: now)
        recorder.send(attachment.resend)
        return (attachment.session, recorder, attachment.sessionPresent)
    }

    func subscribe(
        _ session: Session, _ filter: String, qos: QoS = .atLeastOnce, noLocal: Bool = false,
        readAt: NIODeadline? = nil
    ) -> [(granted: QoS?, retained: [Delivery])] {
        guard let filter = try? TopicFilter(filter) else {
            Issue.record("invalid filter")
            return []
        }
        let request = Broker.SubscribeRequest(
            filter: filter, options: SubscriptionOptions(qos: qos, noLocal: noLocal),
            retainHandling: .sendOnSubscribe)
        return broker.subscribe(session, [request], readAt: readAt ?? now)
    }

    /// A session subscribed to `will/#`, recording the Wills it receives.
    private func willWatcher() -> Recorder {
        let (watcher, watching, _) = connect("w")
        _ = subscribe(watcher, "will/#")
        return watching
    }

    /// `recorder`'s connection ends without DISCONNECT, leaving a Will on `topic`.
    private func drop(_ session: Session, _ recorder: Recorder, will topic: String, delay: UInt32) {
        broker.close(
            session, sink: recorder, will: Broker.Will(message: message(topic), tenantID: tenant, delay: delay),
            now: now)
    }

    func message(
        _ topic: String, qos: QoS = .atLeastOnce, retain: Bool = false, payload: String = "p",
        from publisher: Session? = nil
    ) -> BrokerMessage {
        BrokerMessage(
            topic: topic, payload: ByteBuffer(string: payload), qos: qos, retain: retain, properties: Properties(),
            receivedAt: now, publisher: publisher?.key)
    }

    @Test func routesAtTheLowerQoSAndClearsRetainOnLiveDelivery() {
        let (session, recorder, _) = connect("a")
        _ = subscribe(session, "s/+", qos: .atMostOnce)
        broker.publish(message("s/1", qos: .exactlyOnce, retain: true), in: tenant, now: now)
        #expect(recorder.publishes.map(\.qos) == [.atMostOnce])
        #expect(recorder.publishes.map(\.retain) == [false])
    }

    @Test func tenantsDoNotSeeEachOther() throws {
        let other = try TenantID("other")
        let (session, recorder, _) = connect("a")
        _ = subscribe(session, "#")
        broker.publish(message("x"), in: other, now: now)
        #expect(recorder.publishes.isEmpty)
        let (_, sameName, _) = connect("a", tenant: other)
        #expect(sameName.closedWith == nil)
        #expect(recorder.closedWith == nil)
    }

    @Test func overlappingSubscriptionsDeliverOnceAtTheHighestQoS() {
        let (session, recorder, _) = connect("a")
        _ = subscribe(session, "s/#", qos: .atMostOnce)
        _ = subscribe(session, "s/+", qos: .exactlyOnce)
        broker.publish(message("s/1", qos: .exactlyOnce), in: tenant, now: now)
        #expect(recorder.publishes.map(\.qos) == [.exactlyOnce])
    }

    @Test func noLocalSkipsOwnMessages() {
        let (session, recorder, _) = connect("a")
        _ = subscribe(session, "s", noLocal: true)
        broker.publish(message("s", from: session), in: tenant, now: now)
        #expect(recorder.publishes.isEmpty)
    }

    @Test func retainedMessagesAreKeptClearedAndLimited() {
        let (session, _, _) = connect("a")
        broker.publish(message("r/1", retain: true), in: tenant, now: now)
        broker.publish(message("r/2", retain: true), in: tenant, now: now)
        #expect(!broker.publish(message("r/3", retain: true), in: tenant, now: now).retainAccepted)
        #expect(subscribe(session, "r/#")[0].retained.map(\.message.topic).sorted() == ["r/1", "r/2"])
        broker.publish(message("r/1", retain: true, payload: ""), in: tenant, now: now)
        #expect(subscribe(session, "r/+")[0].retained.map(\.message.topic) == ["r/2"])
        let again = subscribe(session, "r/+")[0].retained
        #expect(again.allSatisfy { $0.retain })
    }

    /// A tenant's retained messages are bounded by their bytes too (topic and payload): a device retaining large
    /// payloads under many topics once held up to 10,000 × 256 KiB. A replacement counts only what it adds, a
    /// clear gives its bytes back, and a kept payload does not hold the buffer it arrived in.
    @Test func retainedMessagesAreLimitedByTheirBytes() throws {
        var configuration = Broker.Configuration()
        configuration.maximumRetainedBytesPerTenant = 1_000
        let broker = Broker(configuration: configuration, timers: loop)
        func retains(_ topic: String, _ bytes: Int) -> Bool {
            broker.publish(
                message(topic, retain: true, payload: String(repeating: "x", count: bytes)), in: tenant, now: now
            ).retainAccepted
        }
        #expect(retains("b/1", 600) && retains("b/2", 300))
        #expect(!retains("b/3", 200), "903 + 203 bytes")
        #expect(retains("b/2", 390), "the same topic counts only what it adds: 603 + 393")
        #expect(!retains("b/2", 400))
        #expect(retains("b/1", 0) && retains("b/3", 600), "a clear gives its bytes back")
        #expect(retains("b/3", 0))
        // Over the limit (restored from the store, or the limit lowered), a topic may still shrink.
        broker.restoreRetained(
            message("big", retain: true, payload: String(repeating: "x", count: 2_000)),
            stamp: RetainStamp(time: 1, node: UUID()), in: tenant)
        #expect(!retains("big", 2_500) && retains("big", 1_500) && retains("big", 0))
        let read = try #require(ByteBuffer(repeating: 1, count: 16 * 1024).getSlice(at: 0, length: 10))
        #expect(
            broker.publish(
                BrokerMessage(
                    topic: "s", payload: read, qos: .atMostOnce, retain: true, properties: Properties(),
                    receivedAt: now), in: tenant, now: now
            ).retainAccepted)
        let session = broker.open(
            SessionKey(tenantID: tenant, clientID: "reader"), cleanStart: true, expiryInterval: 0, receiveMaximum: 10,
            sink: Recorder(peerAddress: try #require(IPAddress("127.0.0.1"))), now: now
        ).session
        let kept = broker.subscribe(
            session,
            [
                Broker.SubscribeRequest(
                    filter: try TopicFilter("s"), options: SubscriptionOptions(qos: .atLeastOnce),
                    retainHandling: .sendOnSubscribe)
            ], readAt: now)[0].retained
        #expect(kept.first?.message.payload.storageCapacity ?? .max < 1024)
    }

    /// Topics are bytes: `u/K` and `u/\u{212A}` (the Kelvin sign, canonically equivalent as Swift Strings) each keep
    /// their own retained message.
    @Test func retainedMessagesOfCanonicallyEquivalentTopicsAreApart() {
        let (session, _, _) = connect("a")
        broker.publish(message("u/K", retain: true), in: tenant, now: now)
        broker.publish(message("u/\u{212A}", retain: true), in: tenant, now: now)
        let kept = subscribe(session, "u/K")[0].retained.map { Array($0.message.topic.utf8) }
        #expect(kept == [Array("u/K".utf8)])
    }

    @Test func subscriptionsPerSessionAreLimited() {
        let (session, _, _) = connect("a")
        #expect(subscribe(session, "1")[0].granted == .atLeastOnce)
        #expect(subscribe(session, "2")[0].granted == .atLeastOnce)
        #expect(subscribe(session, "3")[0].granted == .atLeastOnce)
        #expect(subscribe(session, "4")[0].granted == nil)
        #expect(subscribe(session, "3")[0].granted == .atLeastOnce)
    }

    @Test func secondConnectionTakesOverWith0x8E() {
        let (_, first, _) = connect("a")
        let (_, second, _) = connect("a")
        #expect(first.closedWith == .sessionTakenOver)
        #expect(second.closedWith == nil)
    }

    @Test func takingOverASessionThatEndsWithItsConnectionStartsAfreshAndPublishesItsWill() {
        // 3.1.1 clean session (expiry 0): the session lasts as long as its connection, so a connection that takes
        // it over finds none, even with clean session 0 (mosquitto's 07-will-takeover), and the Will goes out.
        let watching = willWatcher()
        let (first, firstRecorder, _) = connect("a", clean: true, expiry: 0)
        _ = subscribe(first, "kept?")
        let (second, _, present) = connect("a", clean: false, expiry: 60)
        #expect(!present)
        #expect(second !== first)
        #expect(firstRecorder.closedWith == .sessionTakenOver)
        drop(first, firstRecorder, will: "will/a", delay: 0)
        #expect(watching.publishes.map(\.topic) == ["will/a"])
        #expect(second.withState { $0.subscriptions.isEmpty })
    }

    @Test func takingOverASessionThatContinuesPublishesNoWill() {
        // [MQTT-3.1.3-9]: the new connection to the session came before the old one closed.
        let watching = willWatcher()
        let (first, firstRecorder, _) = connect("a", clean: false, expiry: 60)
        let (second, _, present) = connect("a", clean: false, expiry: 60)
        #expect(present)
        #expect(second === first)
        drop(first, firstRecorder, will: "will/a", delay: 0)
        loop.advanceTime(by: .seconds(60))
        #expect(watching.publishes.isEmpty)
    }

    @Test func aCleanStartWithinTheWillDelayDropsTheWill() {
        // mosquitto's 07-will-delay-recover; [MQTT-3.1.2-8]: a new connection for the ClientId came in time.
        let watching = willWatcher()
        let (session, recorder, _) = connect("a", clean: false, expiry: 30)
        drop(session, recorder, will: "will/a", delay: 3)
        loop.advanceTime(by: .seconds(1))
        let (fresh, _, present) = connect("a", clean: true, expiry: 30)
        #expect(!present)
        #expect(fresh !== session)
        loop.advanceTime(by: .seconds(10))
        #expect(watching.publishes.isEmpty)
    }

    @Test func persistentSessionQueuesWhileOfflineAndResumes() {
        let (session, recorder, present) = connect("a", clean: false, expiry: 60)
        #expect(!present)
        _ = subscribe(session, "q")
        broker.close(session, sink: recorder, will: nil, now: now)
        broker.publish(message("q", payload: "while away"), in: tenant, now: now)
        let (resumed, again, wasPresent) = connect("a", clean: false, expiry: 60)
        #expect(wasPresent)
        #expect(resumed === session)
        #expect(again.publishes.map { String(buffer: $0.payload) } == ["while away"])
    }

    @Test func sessionEndsWhenItsExpiryPasses() {
        let (session, recorder, _) = connect("a", clean: false, expiry: 5)
        _ = subscribe(session, "q")
        broker.close(session, sink: recorder, will: nil, now: now)
        loop.advanceTime(by: .seconds(5))
        let (_, _, present) = connect("a", clean: false, expiry: 5)
        #expect(!present)
    }

    @Test func cleanSessionEndsAtDisconnect() {
        let (session, recorder, _) = connect("a")
        _ = subscribe(session, "q")
        broker.close(session, sink: recorder, will: nil, now: now)
        let (_, _, present) = connect("a", clean: false)
        #expect(!present)
    }

    @Test func willIsPublishedAtOnceOrAfterItsDelayUnlessTheSessionResumes() {
        let watching = willWatcher()
        let (session, recorder, _) = connect("a", clean: false, expiry: 60)
        drop(session, recorder, will: "will/a", delay: 10)
        loop.advanceTime(by: .seconds(9))
        #expect(watching.publishes.isEmpty)
        loop.advanceTime(by: .seconds(1))
        #expect(watching.publishes.map(\.topic) == ["will/a"])

        let (again, recorderAgain, _) = connect("a", clean: false, expiry: 60)
        drop(again, recorderAgain, will: "will/b", delay: 10)
        _ = connect("a", clean: false, expiry: 60)
        loop.advanceTime(by: .seconds(20))
        #expect(watching.publishes.map(\.topic) == ["will/a"])
    }

    @Test func sharedSubscriptionDeliversToOneMemberInTurn() {
        let (first, firstRecorder, _) = connect("a")
        let (second, secondRecorder, _) = connect("b")
        _ = subscribe(first, "$share/g/s")
        _ = subscribe(second, "$share/g/s")
        for _ in 0..<4 { broker.publish(message("s"), in: tenant, now: now) }
        #expect(firstRecorder.publishes.count == 2)
        #expect(secondRecorder.publishes.count == 2)
    }

    /// Shared groups are told apart by bytes, as the session's table and the trie tell their filters apart:
    /// `$share/g/t/K` and `$share/g/t/\u{212A}` are two groups, each still served after the other goes.
    @Test func sharedGroupsOfCanonicallyEquivalentFiltersAreApart() throws {
        let (session, recorder, _) = connect("a")
        _ = subscribe(session, "$share/g/t/K")
        _ = subscribe(session, "$share/g/t/\u{212A}")
        #expect(broker.unsubscribe(session, [try TopicFilter("$share/g/t/K")]) == [true])
        broker.publish(message("t/\u{212A}"), in: tenant, now: now)
        broker.publish(message("t/K"), in: tenant, now: now)
        #expect(recorder.publishes.map { Array($0.topic.utf8) } == [Array("t/\u{212A}".utf8)])
    }

    /// ClientIds are bytes: a client whose id is only canonically equivalent to another's gets its own session.
    @Test func canonicallyEquivalentClientIDsAreTwoSessions() {
        let (first, _, _) = connect("K", clean: false, expiry: 60)
        let (second, _, present) = connect("\u{212A}", clean: false, expiry: 60)
        #expect(!present)
        #expect(first !== second)
    }

    @Test func hubMessagesReachOnlyTheSubscribedDeviceAndCallBackOnItsPuback() throws {
        let device = try DeviceID("dev-h")
        let delivered = Mutex(0)
        let hubMessage = BrokerMessage(
            hubTopic: "devices/dev-h/messages/devicebound/k=v", payload: ByteBuffer(string: "c2d"),
            properties: Properties()
        ) { delivered.withLock { $0 += 1 } }
        #expect(!broker.deliver(hubMessage, toDevice: device, in: tenant))  // no session
        let (session, recorder, _) = connect("dev-h", clean: false, expiry: 60)
        #expect(!broker.deliver(hubMessage, toDevice: device, in: tenant))  // not subscribed
        _ = subscribe(session, "devices/dev-h/messages/devicebound/#", qos: .exactlyOnce)
        #expect(broker.deliver(hubMessage, toDevice: device, in: tenant))
        let publish = try #require(recorder.publishes.first)
        #expect(publish.qos == .atLeastOnce && publish.topic == "devices/dev-h/messages/devicebound/k=v")
        _ = session.acknowledge(.puback, packetID: try #require(publish.packetID), now: now)
        #expect(delivered.withLock { $0 } == 1)

        // In flight when the connection ends: the session lets it go (the hub delivers it again).
        #expect(broker.deliver(hubMessage, toDevice: device, in: tenant))
        broker.close(session, sink: recorder, will: nil, now: now)
        let (_, again, present) = connect("dev-h", clean: false, expiry: 60)
        #expect(present && again.publishes.isEmpty)
    }

    @Test func aSubscriptionReadWithinTheWindowAfterAMessageReceivesIt() {
        let (publisher, _, _) = connect("requester")
        broker.publish(message("req/1", from: publisher), in: tenant, now: now)
        let (early, earlyRecorder, _) = connect("read-before")
        _ = subscribe(early, "req/+", readAt: now - .milliseconds(1))
        let (within, withinRecorder, _) = connect("read-within")
        _ = subscribe(within, "req/#", readAt: now + .milliseconds(1))
        let (late, lateRecorder, _) = connect("read-after")
        _ = subscribe(late, "req/1", readAt: now + .milliseconds(3))
        #expect(earlyRecorder.publishes.map(\.topic) == ["req/1"])
        #expect(withinRecorder.publishes.map(\.topic) == ["req/1"])
        #expect(lateRecorder.publishes.isEmpty)
    }

    @Test func aLateSubscriptionGetsNothingTwiceNorItsOwnNorRetainedMessages() {
        let (session, recorder, _) = connect("a")
        _ = subscribe(session, "s/#")
        broker.publish(message("s/1"), in: tenant, now: now)
        broker.publish(message("own/1", from: session), in: tenant, now: now)
        broker.publish(message("kept/1", retain: true), in: tenant, now: now)
        _ = subscribe(session, "s/+")  // s/# took s/1 already
        _ = subscribe(session, "own/#")
        #expect(recorder.publishes.map(\.topic) == ["s/1"])
        let (other, otherRecorder, _) = connect("b")
        let results = subscribe(other, "kept/1")  // the retained copy only, which the connection sends after SUBACK
        #expect(results.flatMap(\.retained).map(\.message.topic) == ["kept/1"])
        #expect(otherRecorder.publishes.isEmpty)
    }

    @Test func recentMessagesAreBoundedByBytesAndOffByAZeroWindow() throws {
        var configuration = Broker.Configuration()
        configuration.lateSubscriptionBytes = 10
        let small = Broker(configuration: configuration, timers: loop)
        configuration.lateSubscriptionWindow = .zero
        let off = Broker(configuration: configuration, timers: loop)
        for broker in [small, off] {
            broker.publish(message("t/1", payload: "12345"), in: tenant, now: now)  // 8 bytes
            broker.publish(message("t/2", payload: "1234"), in: tenant, now: now)  // 7: t/1 leaves
            broker.publish(message("t/3", payload: "12345678901"), in: tenant, now: now)  // never fits
            // Four bytes, but a slice of a 1 KiB read buffer, which keeping it would keep: never fits either.
            let slice = ByteBuffer(repeating: 0, count: 1024).getSlice(at: 0, length: 4) ?? ByteBuffer()
            broker.publish(
                BrokerMessage(
                    topic: "t/4", payload: slice, qos: .atLeastOnce, retain: false, properties: Properties(),
                    receivedAt: now),
                in: tenant, now: now)
        }
        for (broker, expected) in [(small, ["t/2"]), (off, [])] {
            let recorder = Recorder(peerAddress: try #require(IPAddress("127.0.0.1")))
            let session = broker.open(
                SessionKey(tenantID: tenant, clientID: "late"), cleanStart: true, expiryInterval: 0,
                receiveMaximum: 10, sink: recorder, now: now
            ).session
            let filter = try TopicFilter("t/#")
            _ = broker.subscribe(
                session,
                [.init(filter: filter, options: SubscriptionOptions(qos: .atLeastOnce), retainHandling: .doNotSend)],
                readAt: now)
            #expect(recorder.publishes.map(\.topic) == expected)
        }
    }
}
