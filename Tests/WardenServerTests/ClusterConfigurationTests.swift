import Testing
import WardenCore

@testable import WardenServer

/// `cluster.*`: NATS in the clear on loopback only, TLS anywhere, and a cluster only on a shared store.
struct ClusterConfigurationTests {
    let postgres = [
        "store.backend": "postgresql", "store.url": "postgres://warden@db.example:5432/warden",
    ]

    private func load(_ settings: [String: String]) async throws -> ServerConfiguration {
        try await ServerConfiguration.load(
            flags: postgres.merging(settings) { $1 }, environment: ["WARDEN_STORE_PASSWORD": "secret"], file: nil)
    }

    @Test func serversAreReadWithTheirKind() async throws {
        let plain = try await load(["cluster.nats-urls": "nats://127.0.0.1:4232, nats://localhost"])
        #expect(
            plain.cluster.natsServers == [.init(host: "127.0.0.1", port: 4232), .init(host: "localhost", port: 4222)])
        #expect(!plain.cluster.natsTLS && plain.cluster.isEnabled)
        let tls = try await load(["cluster.nats-urls": "tls://nats-1.example:4443,tls://nats-2.example"])
        #expect(tls.cluster.natsTLS && tls.cluster.natsServers.map(\.host) == ["nats-1.example", "nats-2.example"])
        #expect(try await load([:]).cluster.isEnabled == false)
    }

    @Test(arguments: [
        ["cluster.nats-urls": "nats://nats.example:4222"],
        ["cluster.nats-urls": "nats://127.evil.example:4222"],
        ["cluster.nats-urls": "nats://127.0.0.1,tls://nats.example"],
        ["cluster.nats-urls": "http://127.0.0.1:4222"],
        ["cluster.nats-urls": "nats://user:pass@127.0.0.1"],
        ["cluster.nats-urls": "tls://nats.example:0"],
        ["cluster.nats-urls": "tls://nats.example", "cluster.nats-ca": "/nonexistent/ca.pem"],
        ["cluster.nats-urls": ""],
        ["cluster.node-name": "two words"],
    ])
    func refusesWhatWouldSpeakInTheClearOrCannotWork(settings: [String: String]) async {
        await #expect(throws: WardenError.self) { _ = try await load(settings) }
    }

    /// `postgres` names the same engine as `postgresql`; another name is refused.
    @Test func theBackendIsPostgresqlByEitherName() async throws {
        #expect(try await load(["store.backend": "postgres"]).store.backend == .postgresql)
        await #expect(throws: WardenError.self) { _ = try await load(["store.backend": "pg"]) }
    }

    @Test func aClusterNeedsTheSharedStore() async {
        await #expect(throws: WardenError.self) {
            _ = try await ServerConfiguration.load(
                flags: ["cluster.nats-urls": "nats://127.0.0.1"], environment: [:], file: nil)
        }
    }
}
