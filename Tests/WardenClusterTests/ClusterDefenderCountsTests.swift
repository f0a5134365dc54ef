import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
import WardenCore
import WardenDefender
import WardenNATS
import WardenSecurity
import WardenStore
import WardenTestNATS

@testable import WardenCluster

/// The Defender's counts across nodes against a real nats-server: one address's guesses spread over two nodes
/// raise the alert that as many on one node would.
@Suite(.serialized)
struct ClusterDefenderCountsTests {
    /// One node: its bus, Defender and NATS client sharing counts every second.
    final class Node: Sendable {
        let bus = EventBus()
        let defender: DefenderService
        let nats: NATSClient
        let sharing: Task<Void, Never>

        init(server: TestNATSServer, store: SQLiteDatabase) async throws {
            var settings = DefenderService.Settings()
            settings.authFailureThreshold = 20
            defender = DefenderService(store: store, bus: bus, settings: settings, clock: SystemClock())
            try await defender.load()
            defender.follow(bus)
            nats = NATSClient(
                configuration: .init(servers: [.init(host: "127.0.0.1", port: server.port)], name: "node"),
                group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "nats"))
            sharing = ClusterDefenderCounts(node: UUID(), nats: nats, defender: defender, logger: Logger(label: "x"))
                .start()
            nats.start()
        }

        func guess(from address: IPAddress) {
            bus.publish(
                .authentication(
                    AuthenticationRecord(
                        tenantID: .defaultTenant, principal: "meter-\(UUID())", peerAddress: address,
                        protocolName: "mqtt", method: .sas, isAccepted: false, failure: .sasSignatureMismatch,
                        isCredentialFailure: true, guessedDevice: nil, certificateThumbprint: nil, referenceID: "r",
                        at: Date())))
        }

        func alerts() async throws -> [Alert] {
            try await defender.alerts(status: nil).filter { $0.rule == DefenderService.authFailuresRule }
        }
    }

    @Test func guessesSpreadOverTwoNodesRaiseTheAlert() async throws {
        let server = try TestNATSServer()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("warden-counts-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store = try SQLiteDatabase(
            path: folder.appendingPathComponent("warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()))
        let a = try await Node(server: server, store: store)
        let b = try await Node(server: server, store: store)
        for _ in 0..<200 where !(a.nats.isConnected && b.nats.isConnected) {
            try await Task.sleep(for: .milliseconds(10))
        }
        let attacker = try #require(IPAddress("192.0.2.99"))
        for _ in 0..<12 { a.guess(from: attacker) }
        // A's next share (every second) reaches B.
        try await Task.sleep(for: .milliseconds(1_500))
        for _ in 0..<8 { b.guess(from: attacker) }
        var raised: [Alert] = []
        for _ in 0..<100 where raised.isEmpty {
            raised = try await b.alerts()
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(raised.map(\.subject) == ["address 192.0.2.99"])
        a.sharing.cancel()
        b.sharing.cancel()
        await a.nats.shutdown()
        await b.nats.shutdown()
    }
}
