import Foundation
import Testing
import WardenCore
import WardenStore

/// The audit log's storage, against each engine.
struct AuditStoreTests {
    private func record(
        _ sequence: Int64, at: Int64, action: String = "device.create", tenant: TenantID? = .defaultTenant
    )
        -> (record: AuditRecord, chainHash: [UInt8])
    {
        (
            AuditRecord(
                sequence: sequence, at: at, tenant: tenant, actorKind: "user", actor: "ada", sourceIP: "10.0.0.1",
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
            #expect(try await store.lastAuditChainLink() == nil)
            let records = (1...5).map { record(Int64($0), at: 1_000 * Int64($0)) }
            try await store.appendAuditRecords(Array(records.prefix(2)))
            try await store.appendAuditRecords(Array(records.dropFirst(2)))
            let last = try #require(try await fresh.reopen().lastAuditChainLink())
            #expect(last.sequence == 5 && last.chainHash == [5, 0xFF])

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
            var byReference = AuditFilter(tenant: .defaultTenant, actor: "ada", action: "device.create")
            byReference.referenceID = "ref-4"
            #expect(try await store.auditRecords(byReference, before: nil, limit: 10).map(\.sequence) == [4])

            let chain = try await store.auditChain(after: 3, limit: 10)
            #expect(chain.map(\.record.sequence) == [4, 5] && chain.map(\.chainHash) == [[4, 0xFF], [5, 0xFF]])

            let pruned = try #require(try await store.deleteAuditRecords(before: 3_000, limit: 10))
            #expect(pruned.sequence == 2 && pruned.chainHash == [2, 0xFF])
            #expect(try await store.auditChain(after: 0, limit: 10).map(\.record.sequence) == [3, 4, 5])
            #expect(try await store.deleteAuditRecords(before: 3_000, limit: 10) == nil)
        }
    }

    /// Two nodes each continuing the chain from what they last saw would fork it: the second batch is refused,
    /// also when both append at once; a batch stored already (its commit's answer lost) is not stored twice.
    @Test func postgreSQLKeepsOneChain() async throws {
        try await StoreEngine.postgresql.withFreshStore { fresh in
            try await fresh.store.appendAuditRecords([record(1, at: 1)])
            let otherNode = try await fresh.reopen()
            try await otherNode.appendAuditRecords([record(2, at: 2)])
            await #expect(throws: WardenError(.storeUnavailable, "")) {
                try await fresh.store.appendAuditRecords([(record(2, at: 3).record, [9, 9])])
            }
            // The same batch again, as a writer does when a commit's answer was lost.
            try await otherNode.appendAuditRecords([record(2, at: 2)])
            #expect(try await fresh.store.auditChain(after: 0, limit: 10).map(\.record.at) == [1, 2])

            // Both nodes continue from 2 at once: one batch is stored, the other refused.
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for (node, hash) in [(fresh.store, [UInt8(3)]), (otherNode, [UInt8(4)])] {
                    group.addTask {
                        do {
                            try await node.appendAuditRecords([(record(3, at: 3).record, hash)])
                            return true
                        } catch {
                            return false
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1 && outcomes.count == 2)
            #expect(try await fresh.store.auditChain(after: 0, limit: 10).map(\.record.sequence) == [1, 2, 3])
        }
    }
}
