import Foundation
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
import WardenAuthentication
import WardenCore
import WardenMQTT
import WardenPolicy
import WardenSecurity
import WardenStore

@testable import WardenBroker

/// What the broker writes behind itself, against a real SQLite file.
@MainActor struct BrokerPersistenceTests {
    let loop = EmbeddedEventLoop()
    let database: SQLiteDatabase
    let persistence: BrokerPersistence
    let broker: Broker
    let tenant = TenantID.defaultTenant

    init() throws {
        let folder = FileManager.default.temporaryDirectory.appending(path: "warden-persist-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        database = try SQLiteDatabase(
            path: folder.appending(path: "warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()))
        persistence = BrokerPersistence(store: database, clock: SystemClock(), logger: Logger(label: "test"))
        broker = Broker(configuration: .init(), timers: loop, persistence: persistence)
    }

    private func open(_ sink: BrokerTests.Recorder, clean: Bool, expiry: UInt32 = 60) -> Session {
        broker.open(
            SessionKey(tenantID: tenant, clientID: "c"), cleanStart: clean, expiryInterval: expiry, receiveMaximum: 10,
            sink: sink, now: .now()
        ).session
    }

    private func recorder() throws -> BrokerTests.Recorder {
        BrokerTests.Recorder(peerAddress: try #require(IPAddress("127.0.0.1")))
    }

    private func subscribe(_ session: Session) throws {
        _ = broker.subscribe(
            session,
            [
                Broker.SubscribeRequest(
                    filter: try TopicFilter("t"), options: SubscriptionOptions(qos: .atLeastOnce),
                    retainHandling: .doNotSend)
            ])
    }

    /// Regression: the connection a clean start replaced closed afterwards and stored its ended session again,
    /// whose expiry then deleted the new session's row (and every later message write failed).
    @Test func aReplacedSessionIsNeverStoredAgain() async throws {
        let first = try recorder()
        let old = open(first, clean: false, expiry: 10)
        try subscribe(old)
        let second = try recorder()
        let new = open(second, clean: true, expiry: 600)
        try subscribe(new)
        broker.close(old, sink: first, will: nil, now: .now())
        broker.close(new, sink: second, will: nil, now: .now())
        broker.publish(
            BrokerMessage(
                topic: "t", payload: ByteBuffer(string: "kept"), qos: .atLeastOnce, retain: false,
                properties: Properties(), receivedAt: .now(), publisher: nil), in: tenant, now: .now())
        // Past the old session's expiry, well before the new one's.
        loop.advanceTime(by: .seconds(11))
        await persistence.commitPending()
        let snapshot = try await database.loadMQTTState()
        #expect(snapshot.sessions.map(\.expiryInterval) == [600])
        #expect(snapshot.subscriptions.count == 1)
        #expect(snapshot.messages.count == 1)
    }

    @Test func queuedMessagesAndSubscriptionsAreStoredAndRestored() async throws {
        let sink = try recorder()
        let session = open(sink, clean: true)
        try subscribe(session)
        broker.close(session, sink: sink, will: nil, now: .now())
        broker.publish(
            BrokerMessage(
                topic: "t", payload: ByteBuffer(string: "while away"), qos: .atLeastOnce, retain: false,
                properties: Properties(), receivedAt: .now(), publisher: nil), in: tenant, now: .now())
        await persistence.commitPending()
        let snapshot = try await database.loadMQTTState()
        #expect(snapshot.sessions.count == 1 && snapshot.subscriptions.count == 1 && snapshot.messages.count == 1)

        let restarted = Broker(configuration: .init(), timers: loop, persistence: persistence)
        restarted.restore(snapshot)
        let again = try recorder()
        let attachment = restarted.open(
            SessionKey(tenantID: tenant, clientID: "c"), cleanStart: false, expiryInterval: 60, receiveMaximum: 10,
            sink: again, now: .now())
        #expect(attachment.sessionPresent)
        #expect(attachment.resend.count == 1)
    }

    /// A session restored at start-up queued its messages before anyone was known to ask `receive` for: when a
    /// device resumes it, what the policy does not let it receive is dropped (and recorded once per topic, topics
    /// told apart by their bytes: the Kelvin sign is not a K), and the store forgets it.
    @Test func aResumedRestoredSessionIsScreenedByReceive() async throws {
        let sink = try recorder()
        let session = broker.open(
            SessionKey(tenantID: tenant, clientID: "dev-1"), cleanStart: true, expiryInterval: 60, receiveMaximum: 10,
            sink: sink, now: .now()
        ).session
        _ = broker.subscribe(
            session,
            [
                Broker.SubscribeRequest(
                    filter: try TopicFilter("t/#"), options: SubscriptionOptions(qos: .atLeastOnce),
                    retainHandling: .doNotSend)
            ])
        broker.close(session, sink: sink, will: nil, now: .now())
        for topic in ["t/open", "t/secret", "t/secret", "t/K", "t/\u{212A}"] {
            broker.publish(
                BrokerMessage(
                    topic: topic, payload: ByteBuffer(string: topic), qos: .atLeastOnce, retain: false,
                    properties: Properties(), receivedAt: .now(), publisher: nil), in: tenant, now: .now())
        }
        await persistence.commitPending()

        let document = try PolicyDocument(
            json: Array(
                (#"{"statements": [{"id": "open", "effect": "allow", "principals": {"devices": ["dev-1"]},"#
                    + #" "actions": ["receive"], "resources": ["t/open"]}]}"#).utf8))
        let bus = EventBus()
        let denials = Mutex<[AuthorizationDenial]>([])
        bus.observe { event in
            if case .authorizationDenied(let denial) = event { denials.withLock { $0.append(denial) } }
        }
        let restarted = Broker(
            configuration: .init(), timers: loop, persistence: persistence,
            receiveCheck: ReceiveCheck(
                authorizer: PolicyAuthorizer(FixedPolicyFacts(document)), events: bus, clock: SystemClock()))
        restarted.restore(try await database.loadMQTTState())
        let device = BrokerTests.Recorder(
            peerAddress: try #require(IPAddress("127.0.0.1")),
            identity: .device(
                DeviceIdentity(tenantID: tenant, deviceID: try DeviceID("dev-1"), method: .sas, expiry: nil)))
        let attachment = restarted.open(
            SessionKey(tenantID: tenant, clientID: "dev-1"), cleanStart: false, expiryInterval: 60,
            receiveMaximum: 10, sink: device, now: .now())
        let resent = attachment.resend.compactMap { if case .publish(let publish) = $0 { publish.topic } else { nil } }
        #expect(resent == ["t/open"])
        #expect(
            denials.withLock { $0.map { Array($0.topic.utf8) } }
                == ["t/secret", "t/K", "t/\u{212A}"].map { Array($0.utf8) })
        await persistence.commitPending()
        #expect(try await database.loadMQTTState().messages.map(\.message.topic) == ["t/open"])
    }

    private func retained(_ topic: String, _ body: String, stamp: RetainStamp, expiresAt: Date? = nil)
        -> StoredRetained
    {
        StoredRetained(
            tenantID: tenant,
            message: StoredPayload(
                topic: topic, payload: Array(body.utf8), qos: 1, properties: [0], expiresAt: expiresAt),
            stamp: stamp)
    }

    /// The retained messages `broker` holds now, by topic.
    private func retainedMessages(of broker: Broker) throws -> [String: String] {
        let session = broker.open(
            SessionKey(tenantID: tenant, clientID: "reader-\(UUID())"), cleanStart: true, expiryInterval: 0,
            receiveMaximum: 10, sink: try recorder(), now: .now()
        ).session
        let request = Broker.SubscribeRequest(
            filter: try TopicFilter("#"), options: SubscriptionOptions(qos: .atLeastOnce),
            retainHandling: .sendOnSubscribe)
        var held: [String: String] = [:]
        for delivery in broker.subscribe(session, [request]).flatMap(\.retained) {
            held[delivery.message.topic] = String(buffer: delivery.message.payload)
        }
        return held
    }

    /// A node of a cluster reading the store again (it may have missed other nodes' messages) takes the stored
    /// retained messages and clears later than its own, keeps its own later ones and those still on their way to
    /// the store, and forgets one the store holds nothing of once it is older than a clear is kept.
    @Test func aReadingOfTheStoreTakesTheLaterRetainedMessages() async throws {
        broker.install(cluster: BrokerTests.RecordingLink())
        let other = UUID()
        let now = Date().unixMicroseconds
        func fromCluster(_ topic: String, _ body: String, at time: Int64) {
            broker.publishFromCluster(
                BrokerMessage(
                    topic: topic, payload: ByteBuffer(string: body), qos: .atLeastOnce, retain: true,
                    properties: Properties(), receivedAt: .now()),
                in: tenant, stamp: RetainStamp(time: time, node: other))
        }
        broker.publish(
            BrokerMessage(
                topic: "mine", payload: ByteBuffer(string: "here"), qos: .atLeastOnce, retain: true,
                properties: Properties(), receivedAt: .now()), in: tenant, now: .now())
        broker.publish(
            BrokerMessage(
                topic: "$SYS/broker/uptime", payload: ByteBuffer(string: "1"), qos: .atMostOnce, retain: true,
                properties: Properties(), receivedAt: .now()), in: tenant, now: .now(), isSystem: true)
        fromCluster("stale", "cleared long ago", at: now - StoredRetained.clearsKeptFor - 1_000_000)
        fromCluster("fresh", "on its way", at: now)
        fromCluster("cleared", "before its clear", at: now)
        fromCluster("expired", "before", at: now)
        broker.reconcileRetained([
            retained("mine", "older", stamp: RetainStamp(time: now - 1, node: other)),
            retained("theirs", "missed", stamp: RetainStamp(time: now, node: other)),
            retained("cleared", "", stamp: RetainStamp(time: now + 1, node: other)),
            retained(
                "expired", "gone", stamp: RetainStamp(time: now + 1, node: other),
                expiresAt: Date(timeIntervalSinceNow: -1)),
        ])
        #expect(try retainedMessages(of: broker) == ["mine": "here", "theirs": "missed", "fresh": "on its way"])
        // The broker's own figures are never stored, and stay.
        let session = broker.open(
            SessionKey(tenantID: tenant, clientID: "sys-reader"), cleanStart: true, expiryInterval: 0,
            receiveMaximum: 10, sink: try recorder(), now: .now()
        ).session
        let system = Broker.SubscribeRequest(
            filter: try TopicFilter("$SYS/#"), options: SubscriptionOptions(qos: .atMostOnce),
            retainHandling: .sendOnSubscribe)
        #expect(broker.subscribe(session, [system]).flatMap(\.retained).map(\.message.topic) == ["$SYS/broker/uptime"])
        // What is published here next is stamped after everything read.
        broker.publish(
            BrokerMessage(
                topic: "cleared", payload: ByteBuffer(string: "again"), qos: .atLeastOnce, retain: true,
                properties: Properties(), receivedAt: .now()), in: tenant, now: .now())
        #expect(try retainedMessages(of: broker)["cleared"] == "again")
    }

    /// A restart takes up the stored retained messages with their stamps, and removes the clears past keeping.
    @Test func aRestartRemovesClearsPastKeeping() async throws {
        let now = Date().unixMicroseconds
        let node = UUID()
        try await database.apply([
            .putRetained(retained("kept", "k", stamp: RetainStamp(time: now, node: node))),
            .putRetained(retained("recent", "", stamp: RetainStamp(time: now, node: node))),
            .putRetained(
                retained(
                    "old", "", stamp: RetainStamp(time: now - StoredRetained.clearsKeptFor - 1_000_000, node: node))
            ),
        ])
        broker.restore(try await database.loadMQTTState())
        await persistence.commitPending()
        #expect(try await database.loadRetainedMessages().map(\.message.topic).sorted() == ["kept", "recent"])
        #expect(try retainedMessages(of: broker) == ["kept": "k"])
    }

    /// A change the schema refuses must not hold back the others or the acknowledgements waiting on them.
    @Test func aRefusedChangeIsDroppedAndTheRestCommits() async throws {
        let orphan = StoredMessage(
            tenantID: tenant, clientID: "nobody", sequence: 1,
            message: StoredPayload(topic: "t", payload: [], qos: 1, properties: [0], expiresAt: nil), deliveryQoS: 1,
            retain: false, subscriptionIdentifiers: [], packetID: nil, phase: 0)
        persistence.record([
            .putMessage(orphan),
            .putSession(StoredSession(tenantID: tenant, clientID: "c", expiryInterval: 60, disconnectedAt: nil)),
        ])
        let released = Released()
        persistence.whenCommitted(persistence.recordedCount) { released.value.withLock { $0 = true } }
        await persistence.commitPending()
        #expect(released.value.withLock { $0 })
        #expect(try await database.loadMQTTState().sessions.map(\.clientID) == ["c"])
    }
}

final class Released: Sendable {
    let value = Mutex(false)
}
