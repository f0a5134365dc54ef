import Foundation
import GRDB
import PostgresNIO
import Testing
import WardenCore

@testable import WardenStore

/// The slots a cluster's nodes lease in their shared store, against each engine.
struct NodeSlotStoreTests {
    /// SQLite (one node) judges leases by the time it is given; PostgreSQL by its own clock, so there the test
    /// waits: a lease of 6 s, renewed after 3.5 s for one node and not for the other (2.5 s of margin either way:
    /// a loaded machine stalled a 2 s lease's test).
    /// Sessions of a node that holds no live slot: one marked connected counts as disconnected from now, one past
    /// its expiry goes; live nodes' sessions, a node alone's and those that never expire stay.
    @Test(arguments: StoreEngine.allCases) func sessionsOfStoppedNodesExpire(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            let now = Date()
            _ = try await store.leaseNodeSlot(node: "run-1", name: "alive", count: 4, now: now, staleAfter: 60)
            func session(_ client: String, node: String?, expiry: UInt32 = 60, gone: TimeInterval? = nil)
                -> DeviceStateChange
            {
                .putSession(
                    StoredSession(
                        tenantID: .defaultTenant, clientID: client, expiryInterval: expiry,
                        disconnectedAt: gone.map { now.addingTimeInterval(-$0) }, node: node))
            }
            try await store.apply([
                session("on-live", node: "alive"), session("connected", node: "dead"),
                session("expired", node: "dead", gone: 100), session("forever", node: "dead", expiry: .max, gone: 1e6),
                session("alone", node: nil, gone: 100),
            ])
            // A live lease without a name (a node of an earlier version, in a rolling upgrade): nothing is settled.
            try await unnamedLease(store)
            #expect(try await store.expireSessionsOfStoppedNodes(now: now, staleAfter: 60) == 0)
            try await store.releaseNodeSlot(3, node: "older")
            #expect(try await store.expireSessionsOfStoppedNodes(now: now, staleAfter: 60) == 1)
            var left: [String: Date?] = [:]
            for client in ["on-live", "connected", "expired", "forever", "alone"] {
                for row in try await store.loadMQTTSession(tenantID: .defaultTenant, clientID: client).sessions {
                    left[client] = row.disconnectedAt
                }
            }
            #expect(left.keys.sorted() == ["alone", "connected", "forever", "on-live"])
            #expect(left["on-live"] == .some(nil))
            let marked = try #require(left["connected"] ?? nil)
            #expect(abs(marked.timeIntervalSince(now)) < 1)
            // Its expiry counts from then.
            #expect(try await store.expireSessionsOfStoppedNodes(now: now.addingTimeInterval(61), staleAfter: 60) >= 1)
            #expect(try await store.loadMQTTSession(tenantID: .defaultTenant, clientID: "connected").sessions.isEmpty)
        }
    }

    /// Slot 3 leased now by node "older", as a binary from before leases had names leases it.
    private func unnamedLease(_ store: any PortedStores) async throws {
        if let database = store as? SQLiteDatabase {
            try await database.write { db in
                try db.execute(
                    sql: "INSERT INTO node_slots (slot, node, renewed_at) VALUES (3, 'older', ?)", arguments: [Date()])
            }
            return
        }
        let database = try #require(store as? PostgreSQLDatabase)
        _ = try await database.write { connection in
            try await connection.run("INSERT INTO node_slots (slot, node, renewed_at) VALUES (3, 'older', now())")
        }
    }

    @Test(arguments: StoreEngine.allCases) func slotsAreLeasedRenewedAndFreedWhenStale(engine: StoreEngine) async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            let byDatabaseClock = engine == .postgresql
            let stale: TimeInterval = byDatabaseClock ? 6 : 60
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            #expect(try await store.leaseNodeSlot(node: "a", name: "a", count: 2, now: start, staleAfter: stale) == 0)
            #expect(try await store.leaseNodeSlot(node: "b", name: "b", count: 2, now: start, staleAfter: stale) == 1)
            #expect(try await store.leaseNodeSlot(node: "c", name: "c", count: 2, now: start, staleAfter: stale) == nil)
            #expect(try await store.liveNodeSlots(now: start, staleAfter: stale) == [0, 1])

            // b keeps renewing; a stops (killed): once its lease is stale its slot is the next node's, and a
            // learns it.
            if byDatabaseClock { try await Task.sleep(for: .seconds(3.5)) }
            #expect(try await store.renewNodeSlot(1, node: "b", now: start.addingTimeInterval(50)))
            if byDatabaseClock { try await Task.sleep(for: .seconds(3.5)) }
            let later = start.addingTimeInterval(61)
            #expect(try await store.liveNodeSlots(now: later, staleAfter: stale) == [1])
            #expect(try await store.leaseNodeSlot(node: "c", name: "c", count: 2, now: later, staleAfter: stale) == 0)
            #expect(try await !store.renewNodeSlot(0, node: "a", now: later))
            #expect(try await store.renewNodeSlot(0, node: "c", now: later))

            try await store.releaseNodeSlot(1, node: "b")
            #expect(try await store.leaseNodeSlot(node: "d", name: "d", count: 2, now: later, staleAfter: stale) == 1)
        }
    }

    @Test func nodesStartingAtOnceLeaseDifferentSlots() async throws {
        try await StoreEngine.postgresql.withFreshStore { fresh in
            let others = [try await fresh.reopen(), try await fresh.reopen()]
            let slots = try await withThrowingTaskGroup(of: Int?.self) { group in
                for (index, node) in ([fresh.store] + others).enumerated() {
                    group.addTask {
                        try await node.leaseNodeSlot(
                            node: "n\(index)", name: "n\(index)", count: 1_024, now: Date(), staleAfter: 60)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(slots.compactMap { $0 }) == [0, 1, 2])
        }
    }
}
