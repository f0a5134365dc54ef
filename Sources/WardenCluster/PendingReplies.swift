import Synchronization

/// Requests this node sent to others, each waiting by its id for its answer or its timeout (`ClusterMethods`,
/// `ClusterSessions`). A wait ends once: by `finish`, by the timeout, or at once when the request could not be
/// sent.
final class PendingReplies<Value: Sendable>: Sendable {
    private struct Waiting {
        let continuation: CheckedContinuation<Value, any Error>
        var timer: Task<Void, Never>?
        /// Answers that alone do not end the wait ("not here"), and how many end it together (0: none do).
        var partials = 0
        var expectedPartials: Int
    }

    private let nextID = Atomic<UInt64>(0)
    private let waiting = Mutex<[UInt64: Waiting]>([:])

    /// Sends a request under a fresh id with `send` and waits for its answer. When `send` could not send it
    /// (false), the answer is `unsent`; after `timeout` without an answer it is `expired()`. `expectedPartials`
    /// partial answers (`partialAnswer`), when more than zero, end the wait too.
    func request(
        timeout: Duration, expectedPartials: Int = 0, unsent: Result<Value, any Error>,
        expired: @escaping @Sendable () -> Result<Value, any Error>, send: (UInt64) -> Bool
    ) async throws -> Value {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        return try await withCheckedThrowingContinuation { continuation in
            waiting.withLock { $0[id] = Waiting(continuation: continuation, expectedPartials: expectedPartials) }
            guard send(id) else {
                finish(id, unsent)
                return
            }
            let timer = Task { [weak self] in
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                self?.finish(id, expired())
            }
            // Answered already, or an answer extended the wait: this timer has nothing left to do.
            let isSet = waiting.withLock { waiting -> Bool in
                guard waiting[id] != nil, waiting[id]?.timer == nil else { return false }
                waiting[id]?.timer = timer
                return true
            }
            if !isSet { timer.cancel() }
        }
    }

    /// Gives the wait for `id` `timeout` more from now, ending it with `expired()` then: an answer said that the
    /// real one follows.
    func extend(_ id: UInt64, by timeout: Duration, expired: @escaping @Sendable () -> Result<Value, any Error>) {
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            self?.finish(id, expired())
        }
        let (isWaiting, replaced) = waiting.withLock { waiting -> (Bool, Task<Void, Never>?) in
            guard let entry = waiting[id] else { return (false, nil) }
            waiting[id]?.timer = timer
            return (true, entry.timer)
        }
        replaced?.cancel()
        if !isWaiting { timer.cancel() }
    }

    /// Ends the wait for `id` with `result`; nothing when it is over already (a late or repeated answer).
    func finish(_ id: UInt64, _ result: Result<Value, any Error>) {
        guard let done = waiting.withLock({ $0.removeValue(forKey: id) }) else { return }
        done.timer?.cancel()
        done.continuation.resume(with: result)
    }

    /// Expects at least `count` partial answers for `id`; true when as many have come (the caller then
    /// finishes), false when more are awaited or the wait is over.
    func expectPartials(_ id: UInt64, atLeast count: Int) -> Bool {
        waiting.withLock { waiting in
            guard var entry = waiting[id] else { return false }
            entry.expectedPartials = max(entry.expectedPartials, count)
            waiting[id] = entry
            return entry.partials >= entry.expectedPartials
        }
    }

    /// Counts a partial answer for `id`; true when it completes the expected number (the caller then finishes).
    func partialAnswer(_ id: UInt64) -> Bool {
        waiting.withLock { waiting in
            guard var entry = waiting[id] else { return false }
            entry.partials += 1
            waiting[id] = entry
            return entry.expectedPartials > 0 && entry.partials >= entry.expectedPartials
        }
    }
}
