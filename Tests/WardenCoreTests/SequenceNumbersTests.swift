import Synchronization
import Testing
import WardenCore

/// Numbers for telemetry and cloud-to-device messages: growing on every node, never repeated across nodes.
struct SequenceNumbersTests {
    @Test func aNodeAloneCountsOnFromTheLargestStored() {
        let numbers = SequenceNumbers(after: 41, slot: nil) { 0 }
        #expect((0..<3).map { _ in numbers.next() } == [42, 43, 44])
    }

    @Test func nodesInSlotsNeverRepeatEachOtherAndFollowTheClock() {
        let clock = Atomic<Int64>(1_000)
        let first = SequenceNumbers(after: 5_000_123, slot: 3) { clock.load(ordering: .relaxed) }
        let second = SequenceNumbers(after: 5_000_123, slot: 7) { clock.load(ordering: .relaxed) }
        var seen = Set<Int64>()
        var last: [Int64] = [0, 0]
        for step in 0..<2_000 {
            // The clock stands still, moves on and (step 1,000) goes back: numbers still only grow.
            if step.isMultiple(of: 10) { clock.add(step == 1_000 ? -500 : 1, ordering: .relaxed) }
            for (index, numbers) in [first, second].enumerated() {
                let number = numbers.next()
                #expect(number > 5_000_123 && number > last[index])
                #expect(number % SequenceNumbers.slotCount == (index == 0 ? 3 : 7))
                #expect(seen.insert(number).inserted)
                last[index] = number
            }
        }
        // A node that falls behind the other's numbers catches up with the clock, not with the other node.
        clock.store(10_000_000, ordering: .relaxed)
        #expect(first.next() / SequenceNumbers.slotCount == 10_000_000)
    }

    /// Readers resuming by number are given a cluster's numbers once they are two seconds old (another node may
    /// still be committing a smaller one); a node alone's at once.
    @Test func numbersSettleAfterTwoSecondsInACluster() {
        #expect(SequenceNumbers(after: 0, slot: nil) { 0 }.settled() == .max)
        let clock = Atomic<Int64>(10_000_000)
        let numbers = SequenceNumbers(after: 0, slot: 5) { clock.load(ordering: .relaxed) }
        let early = numbers.next()
        clock.add(1_999_999, ordering: .relaxed)
        let late = numbers.next()
        #expect(numbers.settled() < early)
        clock.add(1, ordering: .relaxed)
        #expect(numbers.settled() >= early && numbers.settled() < late)
        // A clock near the end of time does not trap.
        clock.store(.max, ordering: .relaxed)
        #expect(numbers.settled() == .max)
    }

    @Test func manyThreadsTakeEachNumberOnce() async {
        let numbers = SequenceNumbers(after: 0, slot: 1) { 42 }
        let all = await withTaskGroup(of: [Int64].self) { group in
            for _ in 0..<4 { group.addTask { (0..<1_000).map { _ in numbers.next() } } }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(Set(all).count == 4_000)
    }
}
