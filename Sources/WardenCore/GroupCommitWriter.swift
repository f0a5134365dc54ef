import Synchronization

/// Group commit: many threads record changes in order, one writer commits them in batches, and whoever must not
/// answer before a commit (a PUBACK, an API call's audit record) waits for its ticket. The broker's device-path
/// state and the audit log each write through one.
///
/// A ticket is the count of changes recorded up to and including the caller's; a commit reaches every ticket up
/// to its last change. A failing store is tried again every `retryDelay`, in order and whole (`store` leaves in its
/// argument what it did not store), so nothing is reported committed that was not stored.
public final class GroupCommitWriter<Change: Sendable>: Sendable {
    /// Stores `batch` in one transaction. On a failure it throws, leaving in `batch` what is still to be stored
    /// (all of it, or what follows the part it did store).
    public typealias Store = @Sendable (_ batch: inout [Change]) async throws -> Void

    private struct State {
        var pending: [Change] = []
        /// The last batch's buffer, emptied: `pending` takes it when a batch takes all of `pending`, so that
        /// neither grows a large array afresh for every batch (above `MemoryTuning`'s threshold each growth is a
        /// new mapping, its pages faulted in and unmapped again).
        var spare: [Change] = []
        var recorded: UInt64 = 0
        var committed: UInt64 = 0
        /// Changes refused by `bufferLimit` since the last notice.
        var dropped = 0
        var waiters: [(ticket: UInt64, body: @Sendable () -> Void)] = []
    }

    /// The most changes one transaction carries.
    public let maximumBatch: Int
    /// The most changes pending for `record(ifRoom:)`; `record` itself is never refused.
    public let bufferLimit: Int
    /// How long a failed store waits before it is tried again.
    public let retryDelay: Duration
    private let state = Mutex(State())
    private let store: Store
    private let afterCommit: @Sendable ([Change]) -> Void
    private let failed: @Sendable (_ error: any Error, _ pending: [Change], _ givingUp: Bool) -> Void
    private let noticeOfDrops: (@Sendable (_ count: Int, _ ticket: UInt64) -> Change)?
    private let isFailing = Atomic(false)
    /// Yields when something was recorded: the owner's service loop commits then.
    public let wakeUps: AsyncStream<Void>
    private let wakeUp: AsyncStream<Void>.Continuation

    /// `failed` is told each failed attempt (to log and count it; `givingUp` on the last one `attempts`
    /// allows); `afterCommit` each committed batch, in
    /// order; `noticeOfDrops` makes the change that records how many `record(ifRoom:)` refused, put in the
    /// stream ahead of the next batch so that the gap is itself stored.
    public init(
        maximumBatch: Int = 10_000, bufferLimit: Int = .max, retryDelay: Duration = .seconds(1),
        store: @escaping Store,
        failed: @escaping @Sendable (_ error: any Error, _ pending: [Change], _ givingUp: Bool) -> Void,
        afterCommit: @escaping @Sendable ([Change]) -> Void = { _ in },
        noticeOfDrops: (@Sendable (_ count: Int, _ ticket: UInt64) -> Change)? = nil
    ) {
        self.maximumBatch = maximumBatch
        self.bufferLimit = bufferLimit
        self.retryDelay = retryDelay
        self.store = store
        self.failed = failed
        self.afterCommit = afterCommit
        self.noticeOfDrops = noticeOfDrops
        (wakeUps, wakeUp) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Whether the last attempt to store succeeded: while it is failing (a full disk), callers refuse new work
    /// rather than accept what they cannot store.
    public var canWrite: Bool { !isFailing.load(ordering: .relaxed) }

    /// How many changes have been recorded so far: the ticket of everything recorded until now.
    public var recordedCount: UInt64 { state.withLock { $0.recorded } }

    /// How many changes are committed: while a batch commits, those recorded before it.
    public var committedCount: UInt64 { state.withLock { $0.committed } }

    /// Queues `changes` for the next batch, in the order given; returns the ticket their commit reaches (0 for
    /// none).
    @discardableResult
    public func record(_ changes: [Change]) -> UInt64 {
        guard !changes.isEmpty else { return 0 }
        let ticket = state.withLock { state in
            state.pending += changes
            // total: a count, never negative.
            state.recorded += UInt64(changes.count)
            return state.recorded
        }
        wakeUp.yield()
        return ticket
    }

    /// Queues the change `make` builds from its ticket, under the writer's lock, so that a number it takes from
    /// the ticket follows the commit order. With `ifRoom`, nil (and counted as dropped) when `bufferLimit`
    /// changes are pending.
    public func record(ifRoom: Bool = false, _ make: (UInt64) -> Change) -> UInt64? {
        let ticket = state.withLock { state -> UInt64? in
            if ifRoom, state.pending.count >= bufferLimit {
                state.dropped += 1
                return nil
            }
            state.recorded += 1
            state.pending.append(make(state.recorded))
            return state.recorded
        }
        wakeUp.yield()
        return ticket
    }

    /// Calls `body` once every change up to `ticket` is committed (at once if it is).
    public func whenCommitted(_ ticket: UInt64, _ body: @escaping @Sendable () -> Void) {
        let isCommitted = state.withLock { state in
            if state.committed >= ticket { return true }
            state.waiters.append((ticket, body))
            return false
        }
        if isCommitted { body() }
    }

    /// Returns once every change up to `ticket` is committed.
    public func committed(_ ticket: UInt64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            whenCommitted(ticket) { continuation.resume() }
        }
    }

    /// Commits batches until nothing is pending. `attempts` bounds the tries of one batch (at shutdown, so that
    /// the process still stops): a batch given up on is reported to `failed` as such and counts as done.
    public func commitPending(attempts: Int? = nil) async {
        while true {
            let (batch, upTo) = state.withLock { state -> ([Change], UInt64) in
                if state.dropped > 0, let noticeOfDrops {
                    state.recorded += 1
                    state.pending.append(noticeOfDrops(state.dropped, state.recorded))
                    state.dropped = 0
                }
                let count = min(state.pending.count, maximumBatch)
                let batch: [Change]
                if count > 0, count == state.pending.count {
                    batch = state.pending
                    state.pending = state.spare
                    state.spare = []
                } else {
                    batch = Array(state.pending.prefix(count))
                    state.pending.removeFirst(count)
                }
                // total: a count, never negative.
                return (batch, state.committed + UInt64(count))
            }
            guard !batch.isEmpty else { return }
            await apply(batch, attempts: attempts)
            afterCommit(batch)
            var buffer = consume batch
            buffer.removeAll(keepingCapacity: true)
            state.withLock { state in
                if state.spare.capacity < buffer.capacity { state.spare = buffer }
            }
            let ready = state.withLock { state in
                state.committed = upTo
                let ready = state.waiters.filter { $0.ticket <= upTo }
                state.waiters.removeAll { $0.ticket <= upTo }
                return ready
            }
            for waiter in ready { waiter.body() }
        }
    }

    private func apply(_ batch: [Change], attempts limit: Int?) async {
        var pending = batch
        var attempts = 0
        while true {
            do {
                try await store(&pending)
                isFailing.store(false, ordering: .relaxed)
                return
            } catch {
                isFailing.store(true, ordering: .relaxed)
                attempts += 1
                let givingUp = limit.map { attempts >= $0 } ?? false
                failed(error, pending, givingUp)
                if givingUp { return }
                try? await Task.sleep(for: retryDelay)
            }
        }
    }
}
