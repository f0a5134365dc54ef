import CoreMetrics
import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization
public import WardenCore
public import WardenStore

/// Writes the broker's durable state behind it, in batches (group commit): changes are recorded in order
/// under the broker's and sessions' locks, a single writer commits each batch in one transaction, and whoever
/// must not answer before the commit (a PUBACK) waits for its ticket.
public final class BrokerPersistence: Service, Sendable {
    /// The most changes one transaction carries.
    static let maximumBatch = 10_000

    private struct State {
        var pending: [MQTTStateChange] = []
        /// Changes recorded and committed since start; a ticket is a `recorded` value.
        var recorded: UInt64 = 0
        var committed: UInt64 = 0
        var waiters: [(ticket: UInt64, body: @Sendable () -> Void)] = []
    }

    let store: any MQTTStateStore
    let clock: any WardenClock
    /// Told each committed batch, in commit order (the hub's live telemetry feed follows it).
    private let afterCommit: (@Sendable ([MQTTStateChange]) -> Void)?
    private let droppedChanges = Counter(label: "warden_mqtt_state_changes_dropped_total")
    private let writeFailures = Counter(label: "warden_store_write_failures_total", dimensions: [("writer", "broker")])
    /// Set while the last attempt to store a batch failed, cleared by the next that succeeds.
    private let isFailing = Atomic(false)

    /// Whether the last batch was stored: while it is failing (a full disk), acknowledgements wait and the API
    /// refuses changes with `store.unavailable` rather than accepting what it cannot store.
    public var canWrite: Bool { !isFailing.load(ordering: .relaxed) }
    private let logger: Logger
    private let state = Mutex(State())
    private let wakeUps: AsyncStream<Void>
    private let wakeUp: AsyncStream<Void>.Continuation

    public init(
        store: any MQTTStateStore, clock: any WardenClock, logger: Logger,
        afterCommit: (@Sendable ([MQTTStateChange]) -> Void)? = nil
    ) {
        self.store = store
        self.clock = clock
        self.logger = logger
        self.afterCommit = afterCommit
        (wakeUps, wakeUp) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues changes for the next batch, in the order given; returns the ticket their commit reaches.
    @discardableResult
    public func record(_ changes: [MQTTStateChange]) -> UInt64 {
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

    /// Returns once every change up to `ticket` is committed.
    public func committed(_ ticket: UInt64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            whenCommitted(ticket) { continuation.resume() }
        }
    }

    /// How many changes have been recorded so far.
    var recordedCount: UInt64 { state.withLock { $0.recorded } }

    /// Calls `body` once every change up to `ticket` is committed (at once if it is).
    public func whenCommitted(_ ticket: UInt64, _ body: @escaping @Sendable () -> Void) {
        let isCommitted = state.withLock { state in
            if state.committed >= ticket { return true }
            state.waiters.append((ticket, body))
            return false
        }
        if isCommitted { body() }
    }

    public func run() async throws {
        for await _ in wakeUps.cancelOnGracefulShutdown() {
            await commitPending()
        }
        // Shutting down: what was recorded is committed before the process ends, unless the store is down
        // (then a bounded number of retries, so that the process still stops).
        await commitPending(retries: 10)
    }

    /// Commits one batch. A batch that breaks a schema rule is split: each change is committed alone, one that
    /// breaks a rule (a bug) is dropped, logged and counted rather than blocking every acknowledgement behind
    /// it. A store that cannot write (a full disk, an I/O error) gets the rest again every second, in order and
    /// whole, so nothing is acknowledged that was not stored. On shutdown `retries` bounds the attempts.
    private func apply(_ batch: [MQTTStateChange], retries: Int?) async {
        var pending = batch
        var attempts = 0
        while true {
            let failure: any Error
            do {
                try await store.apply(pending)
                isFailing.store(false, ordering: .relaxed)
                return
            } catch  where isConstraintFailure(error) {
                pending = await applyOneByOne(pending)
                if pending.isEmpty {
                    isFailing.store(false, ordering: .relaxed)
                    return
                }
                failure = error
            } catch {
                failure = error
            }
            isFailing.store(true, ordering: .relaxed)
            writeFailures.increment()
            attempts += 1
            if let retries, attempts > retries {
                droppedChanges.increment(by: pending.count)
                logger.critical(
                    "Stopping with broker state the store would not take.",
                    metadata: ["error": "\(failure)", "changes": "\(pending.count)"])
                return
            }
            logger.error(
                "Cannot store broker state; retrying.",
                metadata: [
                    "error": "\(failure)", "changes": "\(pending.count)",
                    "first": "\(pending.first.map(Self.describe) ?? "")",
                ])
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Commits each change alone and drops those that break a schema rule; returns the changes from the first
    /// one the store could not take (for another reason) on, to be retried in order.
    private func applyOneByOne(_ changes: [MQTTStateChange]) async -> [MQTTStateChange] {
        for (index, change) in changes.enumerated() {
            do {
                try await store.apply([change])
            } catch  where isConstraintFailure(error) {
                droppedChanges.increment()
                logger.error(
                    "Dropped a broker state change the store refused.",
                    metadata: ["error": "\(error)", "change": "\(Self.describe(change))"])
            } catch {
                return Array(changes[index...])
            }
        }
        return []
    }

    /// A change that breaks the schema's rules fails the same way every time; retrying cannot help.
    private func isConstraintFailure(_ error: any Error) -> Bool {
        (error as? WardenError)?.code == .storeConstraintViolated
    }

    /// A change's kind and keys, never its payload.
    private static func describe(_ change: MQTTStateChange) -> String {
        switch change {
        case .putSession(let session): "putSession \(session.tenantID)/\(session.clientID)"
        case .deleteSession(let tenantID, let clientID): "deleteSession \(tenantID)/\(clientID)"
        case .putSubscription(let subscription): "putSubscription \(subscription.tenantID)/\(subscription.clientID)"
        case .deleteSubscription(let tenantID, let clientID, _): "deleteSubscription \(tenantID)/\(clientID)"
        case .putMessage(let message): "putMessage \(message.tenantID)/\(message.clientID) #\(message.sequence)"
        case .updateMessage(let tenantID, let clientID, let sequence, _, _):
            "updateMessage \(tenantID)/\(clientID) #\(sequence)"
        case .deleteMessage(let tenantID, let clientID, let sequence):
            "deleteMessage \(tenantID)/\(clientID) #\(sequence)"
        case .putRetained(let retained): "putRetained \(retained.tenantID)"
        case .deleteRetained(let tenantID, _): "deleteRetained \(tenantID)"
        case .putCloudToDevice(let message):
            "putCloudToDevice \(message.tenantID)/\(message.deviceID) #\(message.sequenceNumber)"
        case .deleteCloudToDevice(let sequence): "deleteCloudToDevice #\(sequence)"
        case .appendFeedback(let feedback): "appendFeedback \(feedback.tenantID)/\(feedback.deviceID)"
        case .putTwin(let twin): "putTwin \(twin.tenantID)/\(twin.deviceID)"
        case .deleteTwin(let tenantID, let deviceID): "deleteTwin \(tenantID)/\(deviceID)"
        case .appendTelemetry(let message):
            "appendTelemetry \(message.tenantID)/\(message.deviceID) #\(message.sequenceNumber)"
        }
    }

    /// Commits batches until nothing is pending. A failing store is retried; nothing recorded is dropped.
    func commitPending(retries: Int? = nil) async {
        while true {
            let (batch, upTo) = state.withLock { state -> ([MQTTStateChange], UInt64) in
                let count = min(state.pending.count, Self.maximumBatch)
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                // total: a count, never negative.
                return (batch, state.committed + UInt64(count))
            }
            guard !batch.isEmpty else { return }
            await apply(batch, retries: retries)
            afterCommit?(batch)
            let ready = state.withLock { state in
                state.committed = upTo
                let ready = state.waiters.filter { $0.ticket <= upTo }
                state.waiters.removeAll { $0.ticket <= upTo }
                return ready
            }
            for waiter in ready { waiter.body() }
        }
    }
}
