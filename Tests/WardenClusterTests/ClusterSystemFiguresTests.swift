import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
import WardenBroker
import WardenCore
import WardenNATS
import WardenTestNATS

@testable import WardenCluster

/// `$SYS` figures across nodes against a real nats-server: each node's round adds the others' last figures of the
/// tenants it reports; a hostile or stale word changes nothing it should not.
@Suite(.serialized)
struct ClusterSystemFiguresTests {
    final class Node: Sendable {
        let nats: NATSClient
        let relay: ClusterSystemFigures

        init(server: TestNATSServer) {
            nats = NATSClient(
                configuration: .init(servers: [.init(host: "127.0.0.1", port: server.port)], name: "node"),
                group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "nats"))
            relay = ClusterSystemFigures(node: UUID(), nats: nats)
            relay.start()
            nats.start()
        }
    }

    /// Exchanges `here` until the sum of the others' figures is `expected` (each delivery takes a moment).
    private func exchanged(
        _ node: Node, _ here: [TenantID: TenantFigures], lasting: Duration = .seconds(30),
        until expected: [TenantID: TenantFigures]
    ) async -> [TenantID: TenantFigures] {
        var sum: [TenantID: TenantFigures] = [:]
        for _ in 0..<200 {
            sum = node.relay.exchange(here, lasting: lasting)
            if sum == expected { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return sum
    }

    @Test func eachNodeAddsTheOthersFiguresOfTheTenantsItReports() async throws {
        let server = try TestNATSServer()
        let other = try TenantID("other")
        let (a, b) = (Node(server: server), Node(server: server))
        for _ in 0..<500 where !(a.nats.isConnected && b.nats.isConnected) {
            try await Task.sleep(for: .milliseconds(10))
        }
        try await Task.sleep(for: .milliseconds(200))
        let figuresA = TenantFigures(
            connected: 3, sessions: 4, subscriptions: 5, retained: 7, received: 100, delivered: 90)
        let figuresB = TenantFigures(
            connected: 2, sessions: 2, subscriptions: 1, retained: 7, received: 10, delivered: 20)
        #expect(a.relay.exchange([.defaultTenant: figuresA, other: figuresA], lasting: .seconds(30)).isEmpty)
        // B reports the default tenant only: the other tenant's figures stay with the node that has its sessions.
        let atB = await exchanged(b, [.defaultTenant: figuresB], until: [.defaultTenant: figuresA])
        #expect(atB == [.defaultTenant: figuresA])
        var total = figuresA
        total.add(figuresB)
        #expect(
            total
                == TenantFigures(
                    connected: 5, sessions: 6, subscriptions: 6, retained: 7, received: 110, delivered: 110))
        #expect(
            await exchanged(a, [.defaultTenant: figuresA], until: [.defaultTenant: figuresB]) == [
                .defaultTenant: figuresB
            ])

        // A word not repeated counts no more once its time is over (the receiving node's rounds say how long).
        _ = a.relay.exchange([:], lasting: .milliseconds(300))
        let lastWord = TenantFigures(connected: 9)
        _ = b.relay.exchange([.defaultTenant: lastWord], lasting: .seconds(30))
        _ = await exchanged(
            a, [.defaultTenant: figuresA], lasting: .milliseconds(300), until: [.defaultTenant: lastWord])
        try await Task.sleep(for: .milliseconds(400))
        #expect(a.relay.exchange([.defaultTenant: figuresA], lasting: .seconds(30)).isEmpty)

        // A hostile publisher (through B's connection: a client hears nothing it sent itself): figures below
        // nothing or past any bound neither trap nor lower a figure; a tenant id that is not one, and a message
        // with too many tenants, are left out.
        let hostile = UUID()
        func publish(_ tenants: [String: TenantFigures]) throws {
            let json = try JSONEncoder().encode(ClusterSystemFigures.Message(origin: hostile, tenants: tenants))
            b.nats.publish(ClusterSystemFigures.subject, payload: ByteBuffer(bytes: json))
        }
        let wild = TenantFigures(
            connected: -5, sessions: .max, subscriptions: .min, retained: -1, received: .max, delivered: 1)
        // In order: once the second is taken, the first was.
        try publish(
            Dictionary(
                uniqueKeysWithValues: (0...ClusterSystemFigures.maximumTenantsPerMessage).map { ("t\($0)", figuresB) }))
        try publish(["default": wild, "Not A Tenant": figuresB])
        let expected = TenantFigures(
            connected: 3, sessions: .max, subscriptions: 5, retained: 7, received: .max, delivered: 91)
        var clamped = TenantFigures()
        clamped.add(wild)
        var summed = figuresA
        summed.add(
            await exchanged(a, [.defaultTenant: figuresA], until: [.defaultTenant: clamped])[.defaultTenant] ?? .init())
        #expect(summed == expected)
        #expect(a.relay.exchange([try TenantID("t1"): figuresA], lasting: .seconds(30)).isEmpty)
        await a.nats.shutdown()
        await b.nats.shutdown()
    }
}
