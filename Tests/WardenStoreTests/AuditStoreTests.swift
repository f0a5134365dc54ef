import Foundation
import Testing
import WardenCore
import WardenStore

/// The audit log's storage, against each engine.
struct AuditStoreTests {
    private func record(
        _ sequence: Int64, at: Int64, action: String = "device.create", tenant: TenantID? = .defaultTenant,
        actor: String = "ada"
    )
        -> (record: AuditRecord, chainHash: [UInt8])
    {
        (
            AuditRecord(
                sequence: sequence, at: at, tenant: tenant, actorKind: "user", actor: actor, sourceIP: "10.0.0.1",
                action: action, target: "device:d\(sequence)",
                outcome: sequence.isMultiple(of: 2) ? .failure : .success,
                reason: sequence.isMultiple(of: 2) ? "auth.forbidden" : nil, referenceID: "ref-\(sequence)",
                details: ["n": "\(sequence)", "quote": "\"\n"]),
            [UInt8(truncatingIfNeeded: sequence), 0xFF]
        )
    }

    @Test(arguments: StoreEngine.allCases) func recordsAreAppendedReadAndPruned(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            #expect(try await store.auditChain(after: 0, limit: 1).isEmpty)
            let records = (1...5).map { record(Int64($0), at: 1_000 * Int64($0)) }
            try await store.appendAuditRecords(Array(records.prefix(2)))
            try await store.appendAuditRecords(Array(records.dropFirst(2)))
            let last = try #require(try await fresh.reopen().auditChain(after: 4, limit: 1).first)
            #expect(last.record.sequence == 5 && last.chainHash == [5, 0xFF])

            let newestFirst = try await store.auditRecords(AuditFilter(), before: nil, limit: 10)
            #expect(newestFirst.map(\.sequence) == [5, 4, 3, 2, 1])
            let oldest = try #require(newestFirst.last)
            #expect(oldest.details == ["n": "1", "quote": "\"\n"] && oldest.referenceID == "ref-1")
            #expect(oldest.tenant == .defaultTenant && oldest.outcome == .success && oldest.reason == nil)
            #expect(oldest.at == 1_000 && oldest.sourceIP == "10.0.0.1" && oldest.target == "device:d1")
            #expect(
                try await store.auditRecords(AuditFilter(outcome: .failure), before: nil, limit: 10).map(\.sequence)
                    == [4, 2])
            #expect(
                try await store.auditRecords(AuditFilter(from: 2_000, to: 4_000), before: nil, limit: 10).map(
                    \.sequence) == [3, 2])
            #expect(try await store.auditRecords(AuditFilter(), before: 3, limit: 1).map(\.sequence) == [2])
            // Oldest first after a cursor and up to a last one (exports), with the filter.
            #expect(
                try await store.auditRecords(AuditFilter(), .oldestAfter(1, through: 4), limit: 2).map(\.sequence) == [
                    2, 3,
                ])
            #expect(
                try await store.auditRecords(AuditFilter(), .oldestAfter(3, through: 4), limit: 2).map(\.sequence) == [
                    4
                ])
            #expect(
                try await store.auditRecords(AuditFilter(outcome: .failure), .oldestAfter(0, through: 5), limit: 10)
                    .map(
                        \.sequence) == [2, 4])
            var byReference = AuditFilter(tenant: .defaultTenant, actor: "ada", action: "device.create")
            byReference.referenceID = "ref-4"
            #expect(try await store.auditRecords(byReference, before: nil, limit: 10).map(\.sequence) == [4])

            let chain = try await store.auditChain(after: 3, limit: 10)
            #expect(chain.map(\.record.sequence) == [4, 5] && chain.map(\.chainHash) == [[4, 0xFF], [5, 0xFF]])

            let pruned = try #require(try await store.deleteAuditRecords(before: 3_000, limit: 10))
            #expect(pruned.sequence == 2 && pruned.chainHash == [2, 0xFF])
            #expect(try await store.auditChain(after: 0, limit: 10).map(\.record.sequence) == [3, 4, 5])
            #expect(try await store.deleteAuditRecords(before: 3_000, limit: 10) == nil)
            // Everything is old enough, but the chain's end stays for the next append to continue.
            #expect(try await store.deleteAuditRecords(before: 1_000_000, limit: 10)?.sequence == 4)
            #expect(try await store.auditChain(after: 0, limit: 10).map(\.record.sequence) == [5])
        }
    }

    /// Two nodes (two handles on one store) appending at once: every batch is linked to the end the other left,
    /// so the records are numbered without gaps or repeats and each one's link continues the one before it.
    @Test(arguments: StoreEngine.allCases) func nodesAppendingAtOnceKeepOneChain(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let otherNode = try await fresh.reopen()
            @Sendable func link(_ previous: [UInt8], _ sequence: Int64) -> [UInt8] {
                [UInt8(truncatingIfNeeded: sequence)] + previous.prefix(7)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (node, actor) in [(fresh.store, "a"), (otherNode, "b")] {
                    group.addTask {
                        for batch in 0..<10 {
                            _ = try await node.appendAuditRecords(linking: { end in
                                var (sequence, previous) = end ?? (0, [])
                                return (0..<3).map { index in
                                    sequence += 1
                                    previous = link(previous, sequence)
                                    let record = self.record(sequence, at: Int64(batch * 3 + index), actor: actor)
                                    return (record.record, previous)
                                }
                            })
                        }
                    }
                }
                try await group.waitForAll()
            }
            let chain = try await fresh.store.auditChain(after: 0, limit: 100)
            #expect(chain.map(\.record.sequence) == Array(1...60))
            var previous: [UInt8] = []
            for entry in chain {
                #expect(entry.chainHash == link(previous, entry.record.sequence))
                previous = entry.chainHash
            }
            #expect(Set(chain.map(\.record.actor)) == ["a", "b"])
            let end = try #require(try await otherNode.auditChain(after: 59, limit: 1).first)
            #expect(end.record.sequence == 60 && end.chainHash == previous)
        }
    }
}

extension AuditStore {
    /// Appends records numbered and linked by the test, wherever the stored chain ends.
    func appendAuditRecords(_ records: [(record: AuditRecord, chainHash: [UInt8])]) async throws {
        _ = try await appendAuditRecords(linking: { _ in records })
    }
}
