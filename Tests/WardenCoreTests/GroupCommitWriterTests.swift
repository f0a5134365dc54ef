import Synchronization
import Testing
import WardenCore

/// The one group-commit writer: tickets, batches, retries that lose nothing, a bounded buffer that says what
/// it dropped.
struct GroupCommitWriterTests {
    /// What a fake store was asked to store, and how many attempts to fail first.
    final class Store: Sendable {
        let batches = Mutex<[[String]]>([])
        let failuresLeft: Mutex<Int>
        let failed = Mutex<[(pending: [String], givingUp: Bool)]>([])

        init(failing: Int = 0) {
            failuresLeft = Mutex(failing)
        }

        func writer(maximumBatch: Int = 3, bufferLimit: Int = .max) -> GroupCommitWriter<String> {
            GroupCommitWriter(
                maximumBatch: maximumBatch, bufferLimit: bufferLimit, retryDelay: .milliseconds(1),
                store: { batch in
                    // While failures are left: stores the first change of several (none of one), then fails.
                    let fails = self.failuresLeft.withLock { left in
                        defer { left = max(0, left - 1) }
                        return left > 0
                    }
                    if fails {
                        if batch.count > 1 {
                            self.batches.withLock { $0.append([batch[0]]) }
                            batch.removeFirst()
                        }
                        throw CancellationError()
                    }
                    self.batches.withLock { $0.append(batch) }
                },
                failed: { _, pending, givingUp in self.failed.withLock { $0.append((pending, givingUp)) } },
                noticeOfDrops: { count, ticket in "dropped \(count) at \(ticket)" })
        }
    }

    @Test func ticketsCountChangesAndBatchesKeepTheirOrderAndSize() async {
        let store = Store()
        let writer = store.writer()
        #expect(writer.record([]) == 0)
        #expect(writer.record(["a", "b"]) == 2)
        #expect(writer.record({ ticket in "c\(ticket)" }) == 3)
        #expect(writer.record(["d", "e"]) == 5)
        let done = Mutex<[UInt64]>([])
        writer.whenCommitted(3) { done.withLock { $0.append(3) } }
        writer.whenCommitted(5) { done.withLock { $0.append(5) } }
        #expect(done.withLock { $0 }.isEmpty)
        await writer.commitPending()
        #expect(store.batches.withLock { $0 } == [["a", "b", "c3"], ["d", "e"]])
        #expect(done.withLock { $0 } == [3, 5])
        writer.whenCommitted(5) { done.withLock { $0.append(0) } }
        #expect(done.withLock { $0 } == [3, 5, 0])
        await writer.committed(5)
    }

    @Test func aFailingStoreIsTriedAgainWithWhatItLeftAndNothingIsCommittedMeanwhile() async {
        let store = Store(failing: 2)
        let writer = store.writer()
        writer.record(["a", "b", "c"])
        let committed = Mutex(false)
        writer.whenCommitted(3) { committed.withLock { $0 = true } }
        await writer.commitPending()
        #expect(store.batches.withLock { $0 } == [["a"], ["b"], ["c"]])
        #expect(store.failed.withLock { $0.map(\.pending) } == [["b", "c"], ["c"]])
        #expect(committed.withLock { $0 })
        #expect(writer.canWrite)
    }

    @Test func atShutdownABoundedNumberOfAttemptsGivesUp() async {
        let store = Store(failing: 10)
        let writer = store.writer()
        writer.record(["a", "b", "c", "d"])
        await writer.commitPending(attempts: 2)
        let failed = store.failed.withLock { $0 }
        #expect(failed.map(\.givingUp) == [false, true, false, true])
        #expect(!writer.canWrite)
    }

    @Test func aFullBufferDropsAndTheNextBatchSaysHowMany() async {
        let store = Store()
        let writer = store.writer(bufferLimit: 2)
        #expect(writer.record(ifRoom: true, { _ in "a" }) == 1)
        #expect(writer.record(ifRoom: true, { _ in "b" }) == 2)
        #expect(writer.record(ifRoom: true, { _ in "c" }) == nil)
        #expect(writer.record(ifRoom: true, { _ in "d" }) == nil)
        // Not bounded: what a caller waits for is never dropped.
        #expect(writer.record({ _ in "e" }) == 3)
        await writer.commitPending()
        #expect(store.batches.withLock { $0 } == [["a", "b", "e"], ["dropped 2 at 4"]])
        #expect(writer.recordedCount == 4)
    }
}
