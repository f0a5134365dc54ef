import Foundation
import Logging
import Testing
import WardenCore
import WardenSecurity
import WardenStore

@testable import WardenCluster

/// Slots leased from one store: the node with the lowest live slot is on duty for the periodic jobs, and a
/// number is settled by the node that gave it out, or by the first live node once that node is gone.
struct NodeSlotLeaseTests {
    @Test func theLowestLiveSlotIsOnDutyAndSettlesForGoneNodes() async throws {
        let folder = FileManager.default.temporaryDirectory.appending(path: "warden-slots-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store = try SQLiteDatabase(
            path: folder.appending(path: "warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()))
        let logger = Logger(label: "test")
        let first = try await NodeSlotLease.lease(
            node: "a", name: "a", store: store, clock: SystemClock(), logger: logger)
        let second = try await NodeSlotLease.lease(
            node: "b", name: "b", store: store, clock: SystemClock(), logger: logger)
        #expect(first.slot == 0 && second.slot == 1)
        #expect(first.isFirst && !second.isFirst)
        #expect(second.otherNodes == 1)
        // A number from slot 1 is slot 1's to settle; one from slot 7 (no live node) the first node's. (The first
        // node learns of the second at its next renewal: until then it takes slot 1 for gone, too.)
        let fromSecond = SequenceNumbers.slotCount * 1_000 + 1
        let fromGone = SequenceNumbers.slotCount * 1_000 + 7
        #expect(second.settles(fromSecond))
        #expect(first.settles(fromGone) && !second.settles(fromGone))
    }
}
