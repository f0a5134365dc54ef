import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
import WardenCore
import WardenMQTT
import WardenNATS
import WardenPolicy
import WardenTestNATS

@testable import WardenBroker
@testable import WardenCluster
@testable import WardenHub

/// Presence across nodes against a real nats-server: a node tells of the devices connected to the others, what
/// does not answer in time is left out, and an answer names nothing that was not asked.
@Suite(.serialized)
struct ClusterPresenceTests {
    final class Sink: ConnectionSink {
        let identity = ClientIdentity.anonymous(.defaultTenant, .publishSubscribe)
        let peerAddress = IPAddress("127.0.0.1") ?? .unspecified
        var policyContext: PolicyContext { PolicyContext(peerAddress: peerAddress) }
        func send(_ packets: [MQTTPacket]) {}
        func close(_ reason: ReasonCode, reasonString: String?) {}
        func caughtUp() -> EventLoopFuture<Void>? { nil }
    }

    /// One node: its broker, presence and NATS client.
    final class Node: Sendable {
        let broker = Broker(configuration: .init(), timers: MultiThreadedEventLoopGroup.singleton.next())
        let presence: DevicePresence
        let nats: NATSClient

        init(server: TestNATSServer, otherNodes: Int, timeout: Duration = .seconds(2)) {
            presence = DevicePresence(broker: broker, clock: SystemClock())
            nats = NATSClient(
                configuration: .init(servers: [.init(host: "127.0.0.1", port: server.port)], name: "node"),
                group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "nats"))
            ClusterPresence(
                node: UUID(), nats: nats, presence: presence, otherNodes: { otherNodes }, recount: { otherNodes },
                timeout: timeout, logger: Logger(label: "presence")
            ).start()
            nats.start()
        }

        func connect(_ deviceID: String) throws {
            _ = broker.open(
                SessionKey(tenantID: .defaultTenant, clientID: deviceID), cleanStart: true, expiryInterval: 0,
                receiveMaximum: 10, sink: Sink(), now: .now())
            presence.touched(try DeviceID(deviceID), in: .defaultTenant)
        }
    }

    private func waitForConnections(_ nodes: Node...) async {
        for _ in 0..<500 where !nodes.allSatisfy(\.nats.isConnected) { try? await Task.sleep(for: .milliseconds(10)) }
        // Each node's subscriptions reach the server after its connection.
        try? await Task.sleep(for: .milliseconds(200))
    }

    @Test func aNodeTellsOfTheDevicesConnectedToAnother() async throws {
        let server = try TestNATSServer()
        let a = Node(server: server, otherNodes: 1)
        let b = Node(server: server, otherNodes: 1)
        await waitForConnections(a, b)
        try a.connect("meter-1")
        try b.connect("meter-2")
        let asked = [try DeviceID("meter-1"), try DeviceID("meter-2"), try DeviceID("meter-3")]
        for node in [a, b] {
            let presence = await node.presence.presence(in: .defaultTenant, of: asked, countingTenant: true)
            #expect(presence.connectedCount == 2 && presence.connected == ["meter-1", "meter-2"])
            #expect(presence.lastActivity.keys.sorted() == ["meter-1", "meter-2"])
        }
        #expect(await a.presence.presence(in: try TenantID("other"), of: asked) == Presence())
        await a.nats.shutdown()
        await b.nats.shutdown()
    }

    /// The audit asks about every device that looks silent, thousands at once: a page at a time, each answered.
    @Test func devicesPastOnePageAreAskedAPageAtATime() async throws {
        let server = try TestNATSServer()
        let a = Node(server: server, otherNodes: 1)
        let b = Node(server: server, otherNodes: 1)
        await waitForConnections(a, b)
        let asked = try (0..<2_500).map { try DeviceID("meter-\($0)") }
        for index in [0, 999, 1_000, 2_499] { try b.connect("meter-\(index)") }
        try a.connect("meter-1500")
        #expect(
            await a.presence.connected(in: .defaultTenant, among: asked)
                == ["meter-0", "meter-999", "meter-1000", "meter-1500", "meter-2499"])
        await a.nats.shutdown()
        await b.nats.shutdown()
    }

    /// A node counted but silent (stopped, not yet past its lease) costs the question its timeout, no more; an
    /// answer's devices not asked about, and a count below zero or past any bound, change nothing they should not.
    @Test func aSilentNodeIsLeftOutAndAnAnswerIsTakenOnlyForWhatWasAsked() async throws {
        let server = try TestNATSServer()
        // Long enough for the answering node on a loaded machine: the test waits it out once.
        let a = Node(server: server, otherNodes: 2, timeout: .seconds(1))
        let b = Node(server: server, otherNodes: 2, timeout: .seconds(1))
        let hostile = NATSClient(
            configuration: .init(servers: [.init(host: "127.0.0.1", port: server.port)], name: "hostile"),
            group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "nats"))
        hostile.subscribe(ClusterPresence.subject) { message in
            guard let replyTo = message.replyTo,
                let question = try? JSONDecoder().decode(
                    ClusterPresence.Question.self, from: Data(message.payload.readableBytesView))
            else { return }
            let lie = ClusterPresence.Answer(
                origin: UUID(), id: question.id,
                presence: Presence(connectedCount: -5, connected: ["elsewhere"], lastActivity: ["elsewhere": 1]))
            // Said twice: it counts as one node's answer.
            if let json = try? JSONEncoder().encode(lie) {
                hostile.publish(replyTo, payload: ByteBuffer(bytes: json))
                hostile.publish(replyTo, payload: ByteBuffer(bytes: json))
            }
        }
        hostile.start()
        await waitForConnections(a, b)
        try b.connect("meter-1")
        let presence = await a.presence.presence(
            in: .defaultTenant, of: [try DeviceID("meter-1")], countingTenant: true)
        #expect(presence.connectedCount == 1 && presence.connected == ["meter-1"])
        #expect(presence.lastActivity.keys.sorted() == ["meter-1"])
        await hostile.shutdown()
        // Two other nodes counted, one answering: the question ends at its timeout with that one's answer.
        let started = ContinuousClock.now
        #expect(await a.presence.presence(in: .defaultTenant, of: [], countingTenant: true).connectedCount == 1)
        #expect(ContinuousClock.now - started >= .seconds(1))
        await a.nats.shutdown()
        await b.nats.shutdown()
    }
}
