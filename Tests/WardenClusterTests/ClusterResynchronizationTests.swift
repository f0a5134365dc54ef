import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
import WardenCore
import WardenNATS
import WardenSecurity
import WardenStore
import WardenTestNATS

@testable import WardenCluster

/// Notices a node could not send (NATS away) are made up for on the other nodes, against a real nats-server: once
/// the node is connected, it asks them to read the store again.
@Suite(.serialized)
struct ClusterResynchronizationTests {
    final class Readings: Sendable {
        let count = Atomic(0)
    }

    /// One node's NATS client and events, counting how often it read the store again.
    final class Node: Sendable {
        let nats: NATSClient
        let bus = EventBus()
        let events: ClusterEvents
        let readings = Readings()

        init(server: TestNATSServer, store: any HubStore) {
            var configuration = NATSClient.Configuration(
                servers: [.init(host: "127.0.0.1", port: server.port)], name: "node")
            configuration.pingInterval = .milliseconds(200)
            nats = NATSClient(
                configuration: configuration, group: MultiThreadedEventLoopGroup.singleton,
                logger: Logger(label: "nats"))
            let readings = self.readings
            events = ClusterEvents(
                node: UUID(), nats: nats, bus: bus, store: store, logger: Logger(label: "events")
            ) { readings.count.wrappingAdd(1, ordering: .relaxed) }
            nats.whenConnected { [events] in events.connected() }
            events.start()
        }

        /// Whether it read the store `count` times within a few seconds.
        func hasRead(_ count: Int) async -> Bool {
            for _ in 0..<500 where readings.count.load(ordering: .relaxed) < count {
                try? await Task.sleep(for: .milliseconds(10))
            }
            return readings.count.load(ordering: .relaxed) >= count
        }
    }

    @Test func aNodeThatCouldNotSendAsksTheOthersToReadTheStoreAgain() async throws {
        let server = try TestNATSServer()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("warden-resync-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let database = try SQLiteDatabase(
            path: folder.appendingPathComponent("warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()))
        let listener = Node(server: server, store: database)
        let running = Task { try await listener.events.run() }
        defer { running.cancel() }
        listener.nats.start()
        // Its first connection: it reads the store once.
        #expect(await listener.hasRead(1))
        #expect(!listener.events.isBehind)

        // The other node's change made before it reached NATS cannot go: once connected it asks.
        let cutOff = Node(server: server, store: database)
        cutOff.bus.publish(.twinReportedChanged(.defaultTenant, try DeviceID("meter-1")))
        cutOff.nats.start()
        #expect(await listener.hasRead(2))
        await cutOff.nats.shutdown()
        await listener.nats.shutdown()
    }
}
