import Synchronization

/// The numbers telemetry, cloud-to-device messages and their feedback are stamped with when they arrive: each one
/// larger than the last, so that readers page and resume by them.
///
/// One node counts on from the largest number stored. Several nodes writing one store must never hand out the
/// same number: each holds a slot of its own (0…1023, leased in the store: `NodeSlotStore`) in the low ten
/// bits, and the bits above are a microsecond clock that moves on by at least one step per number and never
/// goes back. A node's numbers still only grow, and across nodes they follow the time they were given out (to
/// the nodes' clock difference), which is the order a reader of several nodes' messages expects.
public final class SequenceNumbers: Sendable {
    /// Slots a cluster's nodes share out: the low bits of every number.
    public static let slotCount: Int64 = 1024

    private let last: Atomic<Int64>
    private let slot: Int64?
    private let microseconds: @Sendable () -> Int64

    /// Numbers after `last` (the largest stored), for a node alone (`slot` nil) or holding `slot`; `microseconds`
    /// reads the clock (since 1970).
    public init(after last: Int64, slot: Int?, microseconds: @escaping @Sendable () -> Int64) {
        self.microseconds = microseconds
        guard let slot else {
            self.slot = nil
            self.last = Atomic(last)
            return
        }
        // total: a slot is below `slotCount`.
        let ownSlot = Int64(clamping: slot) % Self.slotCount
        self.slot = ownSlot
        // Past every stored number (whichever node's), in this node's slot; wrapping, never trapping, whatever
        // the store holds.
        self.last = Atomic((max(last, 0) / Self.slotCount) * Self.slotCount &+ ownSlot)
    }

    /// How long a number given out in a cluster waits before readers resuming by number are given it: another
    /// node may have given out a smaller one a moment earlier whose commit is still on its way, and a reader that
    /// went past it would never see it. Commits take milliseconds; one slower than this can still be skipped.
    public static let settleTime: Int64 = 2_000_000

    /// The largest number readers that resume by number are given now: in a cluster, those given out at least
    /// `settleTime` microseconds ago; a node alone commits its numbers in order, so every one.
    public func settled() -> Int64 {
        guard slot != nil else { return .max }
        // Numbers whose clock part is at most now − settleTime.
        let (scaled, overflow) = (microseconds() &- Self.settleTime &+ 1).multipliedReportingOverflow(
            by: Self.slotCount)
        return overflow ? .max : scaled &- 1
    }

    /// The next number.
    public func next() -> Int64 {
        guard let slot else { return last.wrappingAdd(1, ordering: .relaxed).newValue }
        let now = microseconds().multipliedReportingOverflow(by: Self.slotCount)
        let clock = now.overflow ? Int64.max - Self.slotCount : now.partialValue - now.partialValue % Self.slotCount
        var current = last.load(ordering: .relaxed)
        while true {
            let candidate = max(current &+ Self.slotCount, clock + slot)
            let (exchanged, original) = last.compareExchange(
                expected: current, desired: candidate, ordering: .relaxed)
            if exchanged { return candidate }
            current = original
        }
    }
}
