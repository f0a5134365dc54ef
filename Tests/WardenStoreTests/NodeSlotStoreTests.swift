import Foundation
import Testing
import WardenStore

/// The slots a cluster's nodes lease in their shared store, against each engine.
struct NodeSlotStoreTests {
    @Test(arguments: StoreEngine.allCases) func slotsAreLeasedRenewedAndFreedWhenStale(engine: StoreEngine) async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            #expect(try await store.leaseNodeSlot(node: "a", count: 2, now: start, staleAfter: 60) == 0)
            #expect(try await store.leaseNodeSlot(node: "b", count: 2, now: start, staleAfter: 60) == 1)
            #expect(try await store.leaseNodeSlot(node: "c", count: 2, now: start, staleAfter: 60) == nil)

            // b keeps renewing; a stops (killed): after 60 s its slot is the next node's, and a learns it.
            #expect(try await store.renewNodeSlot(1, node: "b", now: start.addingTimeInterval(50)))
            let later = start.addingTimeInterval(61)
            #expect(try await store.leaseNodeSlot(node: "c", count: 2, now: later, staleAfter: 60) == 0)
            #expect(try await !store.renewNodeSlot(0, node: "a", now: later))
            #expect(try await store.renewNodeSlot(0, node: "c", now: later))

            try await store.releaseNodeSlot(1, node: "b")
            #expect(try await store.leaseNodeSlot(node: "d", count: 2, now: later, staleAfter: 60) == 1)
        }
    }

    @Test func nodesStartingAtOnceLeaseDifferentSlots() async throws {
        try await StoreEngine.postgresql.withFreshStore { fresh in
            let others = [try await fresh.reopen(), try await fresh.reopen()]
            let slots = try await withThrowingTaskGroup(of: Int?.self) { group in
                for (index, node) in ([fresh.store] + others).enumerated() {
                    group.addTask {
                        try await node.leaseNodeSlot(node: "n\(index)", count: 1_024, now: Date(), staleAfter: 60)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(slots.compactMap { $0 }) == [0, 1, 2])
        }
    }
}
