import Foundation
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
import WardenCore
import WardenMQTT
import WardenRegistry
import WardenSecurity
import WardenStore

@testable import WardenBroker

/// A session moving between the nodes of a cluster, against a real SQLite file: what the broker takes up from
/// the store, what it gives back, and a CONNECT that waits for its session before CONNACK.
@MainActor struct SessionMoveTests {
    let loop = EmbeddedEventLoop()
    let database: SQLiteDatabase
    let tenant = TenantID.defaultTenant

    init() throws {
        let folder = FileManager.default.temporaryDirectory.appending(path: "warden-move-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        database = try SQLiteDatabase(
            path: folder.appending(path: "warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()))
    }

    /// A node of the cluster on the shared store.
    func node(_ name: String) -> (Broker, BrokerPersistence) {
        let persistence = BrokerPersistence(
            store: database, clock: SystemClock(), logger: Logger(label: "test"), node: name)
        return (Broker(configuration: .init(), timers: loop, persistence: persistence), persistence)
    }

    func recorder() throws -> BrokerTests.Recorder {
        BrokerTests.Recorder(peerAddress: try #require(IPAddress("127.0.0.1")))
    }

    private var key: SessionKey { SessionKey(tenantID: tenant, clientID: "c") }

    private func message(_ text: String) -> BrokerMessage {
        BrokerMessage(
            topic: "t", payload: ByteBuffer(string: text), qos: .atLeastOnce, retain: false, properties: Properties(),
            receivedAt: .now(), publisher: nil)
    }

    /// Node "a" with session c connected to `sink` and subscribed to `t`.
    private func connectedOnA(_ sink: BrokerTests.Recorder) throws -> (Broker, BrokerPersistence, Session) {
        let (a, persistence) = node("a")
        let session = a.open(key, cleanStart: true, expiryInterval: 600, receiveMaximum: 10, sink: sink, now: .now())
            .session
        _ = a.subscribe(
            session,
            [
                Broker.SubscribeRequest(
                    filter: try TopicFilter("t"), options: SubscriptionOptions(qos: .atLeastOnce),
                    retainHandling: .doNotSend)
            ])
        return (a, persistence, session)
    }

    /// Node "a" holds session c, subscribed to `t`, with `queued` messages waiting; the store has it all.
    private func sessionOnA(queued: Int) async throws {
        let sink = try recorder()
        let (a, persistence, session) = try connectedOnA(sink)
        a.close(session, sink: sink, will: nil, now: .now())
        for n in 0..<queued { a.publish(message("queued \(n)"), in: tenant, now: .now()) }
        await persistence.commitPending()
    }

    /// Takes up the store's session c on `broker`, its writer committing meanwhile (adopting waits for that).
    private func adopt(_ broker: Broker, _ persistence: BrokerPersistence) async throws -> Bool {
        let snapshot = try await database.loadMQTTSession(tenantID: tenant, clientID: "c")
        let committer = Task {
            while !Task.isCancelled {
                await persistence.commitPending()
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        let adopted = await broker.adoptMoved(snapshot)
        // Its last batch is committed before the test's own commits (a concurrent commitPending returns at once).
        committer.cancel()
        await committer.value
        return adopted
    }

    @Test func aMovedSessionIsTakenUpWithItsQueueAndStoredAsThisNodes() async throws {
        try await sessionOnA(queued: 2)
        let (b, persistence) = node("b")
        #expect(try await adopt(b, persistence))
        // Its row names this node once adopting returns.
        #expect(try await database.loadMQTTSession(tenantID: tenant, clientID: "c").sessions.map(\.node) == ["b"])
        // Held here now: taking it up again changes nothing.
        #expect(try await !adopt(b, persistence))
        let attachment = b.open(
            key, cleanStart: false, expiryInterval: 600, receiveMaximum: 10, sink: try recorder(), now: .now())
        #expect(attachment.sessionPresent)
        let resent = attachment.resend.compactMap {
            if case .publish(let publish) = $0 { String(buffer: publish.payload) } else { nil }
        }
        #expect(resent == ["queued 0", "queued 1"])
        // Its subscription came along: what is published on b now reaches it.
        b.publish(message("live"), in: tenant, now: .now())
        await persistence.commitPending()
        let stored = try await database.loadMQTTSession(tenantID: tenant, clientID: "c")
        #expect(stored.sessions.map(\.node) == ["b"])
        #expect(stored.messages.count == 3)
    }

    /// A connection that took the session here while another one's move read the store keeps it: the move
    /// writes nothing over its row.
    @Test func aMoveArrivingAfterALocalSessionChangesNothing() async throws {
        try await sessionOnA(queued: 1)
        // Stored while connected on a (a would have it count its expiry from now when taken up).
        try await database.apply([
            .putSession(
                StoredSession(tenantID: tenant, clientID: "c", expiryInterval: 600, disconnectedAt: nil, node: "a"))
        ])
        let (b, persistence) = node("b")
        _ = b.open(key, cleanStart: true, expiryInterval: 60, receiveMaximum: 10, sink: try recorder(), now: .now())
        await persistence.commitPending()
        #expect(try await !adopt(b, persistence))
        await persistence.commitPending()
        let stored = try await database.loadMQTTSession(tenantID: tenant, clientID: "c")
        #expect(stored.sessions.map(\.expiryInterval) == [60] && stored.sessions.map(\.node) == ["b"])
        #expect(b.session(key)?.withState { $0.expiryInterval } == 60)
    }

    /// An expired session does not come back to life on the node its client reconnects to.
    @Test func anExpiredSessionIsNotTakenUp() async throws {
        try await database.apply([
            .putSession(
                StoredSession(
                    tenantID: tenant, clientID: "c", expiryInterval: 5, disconnectedAt: Date(timeIntervalSinceNow: -10),
                    node: "a"))
        ])
        let (b, persistence) = node("b")
        #expect(try await !adopt(b, persistence))
        await persistence.commitPending()
        #expect(try await database.loadMQTTSession(tenantID: tenant, clientID: "c").sessions.isEmpty)
    }

    /// Node "a", a cluster node, holds session c connected to the returned sink; node "b" took the session from
    /// the store meanwhile (a heard nothing of it).
    private func movedAwayFromA() async throws -> (Broker, BrokerPersistence, BrokerTests.Recorder) {
        let sink = try recorder()
        let (a, persistence, _) = try connectedOnA(sink)
        a.install(handover: GatedHandover(broker: a, store: database))
        await persistence.commitPending()
        let (b, moved) = node("b")
        #expect(try await adopt(b, moved))
        return (a, persistence, sink)
    }

    /// A holder cut off from the others while its session moved: what it then writes for the session is left
    /// out (the row names the new holder), and it lets its copy go, closing the connection (0x8E).
    @Test func aHolderThatMissedTheMoveWritesNothingOverTheNewHolder() async throws {
        let (a, persistence, sink) = try await movedAwayFromA()
        a.publish(message("late"), in: tenant, now: .now())
        await persistence.commitPending()
        #expect(sink.closedWith == .sessionTakenOver && a.session(key) == nil)
        let stored = try await database.loadMQTTSession(tenantID: tenant, clientID: "c")
        #expect(stored.sessions.map(\.node) == ["b"] && stored.messages.isEmpty)
        #expect(stored.subscriptions.map(\.filter) == ["t"])
    }

    /// A clean start on a node whose copy another node took meanwhile: what was stored goes (claimed first), and
    /// the new session keeps its connection and its row, whatever the old copy's refused writes said.
    @Test func aCleanStartOverAStaleCopyTakesTheRowAndStaysOpen() async throws {
        let (a, persistence, _) = try await movedAwayFromA()
        let fresh = try recorder()
        _ = a.open(key, cleanStart: true, expiryInterval: 600, receiveMaximum: 10, sink: fresh, now: .now())
        await persistence.commitPending()
        #expect(fresh.closedWith == nil && a.session(key) != nil)
        let stored = try await database.loadMQTTSession(tenantID: tenant, clientID: "c")
        #expect(stored.sessions.map(\.node) == ["a"] && stored.subscriptions.isEmpty)
    }

    /// The holder closes its connection (0x8E), drops its copy and answers only after what the session recorded
    /// (a message queued a moment before) is committed.
    @Test func releasingForAMoveClosesTheConnectionAndCommitsFirst() async throws {
        let sink = try recorder()
        let (a, persistence, _) = try connectedOnA(sink)
        a.publish(message("in the queue"), in: tenant, now: .now())
        async let released: Void = a.releaseForMove(key)
        await persistence.commitPending()
        await released
        #expect(sink.closedWith == .sessionTakenOver)
        #expect(a.session(key) == nil)
        let stored = try await database.loadMQTTSession(tenantID: tenant, clientID: "c")
        #expect(stored.messages.map { String(decoding: $0.message.payload, as: UTF8.self) } == ["in the queue"])
        // Nothing more is written for the released copy: its rows are the next node's.
        a.publish(message("after"), in: tenant, now: .now())
        await persistence.commitPending()
        #expect(try await database.loadMQTTSession(tenantID: tenant, clientID: "c").messages.count == 1)
    }
}

/// Moves a session as a cluster node does, without NATS: it waits until the test lets it go, then takes the
/// session up from the store, or fails as a store that cannot be read does.
final class GatedHandover: SessionHandover {
    private let broker: Broker
    private let store: any DeviceStateStore
    private let gate = AsyncStream<Bool>.makeStream()

    init(broker: Broker, store: any DeviceStateStore) {
        self.broker = broker
        self.store = store
    }

    func claimed(_ key: SessionKey) {}

    func takeOver(_ key: SessionKey) async throws {
        for await isReadable in gate.stream {
            guard isReadable else { throw WardenError(.storeUnavailable, "The store cannot be read.") }
            _ = await broker.adoptMoved(
                try await store.loadMQTTSession(tenantID: key.tenantID, clientID: key.clientID))
            return
        }
    }

    func open(isReadable: Bool) {
        gate.continuation.yield(isReadable)
    }
}

extension MQTTConnectionHandlerTests {
    /// Another node's session for dev-1 in `database`, with one cloud-to-device message queued.
    private func sessionElsewhere(in database: SQLiteDatabase) async throws {
        let topic = "devices/dev-1/messages/devicebound/%24.mid=1"
        try await database.apply([
            .putSession(
                StoredSession(
                    tenantID: .defaultTenant, clientID: "dev-1", expiryInterval: 600, disconnectedAt: Date(),
                    node: "elsewhere")),
            .putSubscription(
                StoredSubscription(
                    tenantID: .defaultTenant, clientID: "dev-1", filter: "devices/dev-1/messages/devicebound/#",
                    options: 1, identifier: nil)),
            .putMessage(
                StoredMessage(
                    tenantID: .defaultTenant, clientID: "dev-1", sequence: 4,
                    message: StoredPayload(
                        topic: topic, payload: Array("open".utf8), qos: 1, properties: [0], expiresAt: nil),
                    deliveryQoS: 1, retain: false, subscriptionIdentifiers: [], packetID: nil, phase: 0)),
        ])
    }

    /// A node whose broker moves sessions through `GatedHandover`.
    private func clusterNode() async throws -> (Broker, BrokerPersistence, GatedHandover) {
        let moves = try SessionMoveTests()
        try await sessionElsewhere(in: moves.database)
        let (broker, persistence) = moves.node("here")
        let handover = GatedHandover(broker: broker, store: moves.database)
        broker.install(handover: handover)
        return (broker, persistence, handover)
    }

    /// What the channel wrote once the handover's task and the loop ran (an empty array after a second).
    private func written(by channel: EmbeddedChannel, committing persistence: BrokerPersistence) async throws
        -> [UInt8]
    {
        for _ in 0..<100 {
            try await Task.sleep(for: .milliseconds(10))
            loop.run()
            await persistence.commitPending()
            loop.run()
            var reply: [UInt8] = []
            while let out = try channel.readOutbound(as: ByteBuffer.self) { reply += out.readableBytesView }
            if !reply.isEmpty { return reply }
        }
        return []
    }

    /// Nothing is answered while the session moves; then CONNACK says the session is present, its queued message
    /// follows, and the PUBLISH the client sent right behind its CONNECT is handled after them.
    @Test func aSessionHeldElsewhereMovesBeforeConnack() async throws {
        let (broker, persistence, handover) = try await clusterNode()
        let channel = try channel(broker: broker)
        let stream = try bytes([connect(token: validToken, cleanStart: false), publish(1)])
        let early = try deliver([stream], to: channel)
        #expect(early == [])
        handover.open(isReadable: true)
        let reply = try await written(by: channel, committing: persistence)
        #expect(reply.starts(with: [0x20, 2, 1, 0]))
        #expect(reply[4] == 0x32)  // the queued QoS 1 PUBLISH
        #expect(String(decoding: reply, as: UTF8.self).contains("devices/dev-1/messages/devicebound/"))
        #expect(reply.suffix(4) == [0x40, 2, 0, 1])
        #expect(channel.isActive)
    }

    /// A store that cannot be read refuses the CONNECT (3.1.1: 3 Server unavailable) rather than start the
    /// client over with an empty session, and counts no connection.
    @Test func aSessionThatCannotBeReadRefusesTheConnect() async throws {
        let (broker, persistence, handover) = try await clusterNode()
        let channel = try channel(broker: broker)
        #expect(try deliver([bytes([connect(token: validToken, cleanStart: false)])], to: channel) == [])
        handover.open(isReadable: false)
        #expect(try await written(by: channel, committing: persistence) == [0x20, 2, 0, 3])
        #expect(!channel.isActive)
        #expect(broker.connectionCount.load(ordering: .relaxed) == 0)
    }

    /// A device disabled while its CONNECT waited had no session for the revocation to close: it is refused when
    /// the wait ends (3.1.1: 5 Not authorized), and counts no connection.
    @Test func aDeviceDisabledWhileItsSessionMovesIsRefused() async throws {
        let (broker, persistence, handover) = try await clusterNode()
        let channel = try channel(broker: broker)
        #expect(try deliver([bytes([connect(token: validToken, cleanStart: false)])], to: channel) == [])
        _ = try await fixture.registry.updateDevice(
            .defaultTenant, try DeviceID("dev-1"), .init(status: .disabled), ifMatch: nil)
        handover.open(isReadable: true)
        #expect(try await written(by: channel, committing: persistence) == [0x20, 2, 0, 5])
        #expect(broker.connectionCount.load(ordering: .relaxed) == 0)
    }

    /// A client gone while its session moved: the session stays here, disconnected, for its next CONNECT.
    @Test func aConnectionClosedWhileItsSessionMovesLeavesTheSessionHere() async throws {
        let (broker, persistence, handover) = try await clusterNode()
        let channel = try channel(broker: broker)
        _ = try deliver([bytes([connect(token: validToken, cleanStart: false)])], to: channel)
        try channel.close().wait()
        handover.open(isReadable: true)
        #expect(try await written(by: channel, committing: persistence) == [])
        #expect(broker.connectionCount.load(ordering: .relaxed) == 0)
        let session = try #require(broker.session(SessionKey(tenantID: .defaultTenant, clientID: "dev-1")))
        #expect(session.withState { $0.sink == nil })
    }
}
