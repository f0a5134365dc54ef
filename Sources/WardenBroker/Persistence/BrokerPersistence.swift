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
    let store: any DeviceStateStore
    let clock: any WardenClock
    /// This node's name in a cluster (stored with the sessions it holds); nil for a node alone.
    let node: String?
    private let writer: GroupCommitWriter<DeviceStateChange>
    /// Told the sessions whose changes the store left out because their rows name another node now.
    private let fencedHandler = FencedHandler()

    private final class FencedHandler: Sendable {
        let handler = Mutex<(@Sendable (Set<StoredSessionKey>) -> Void)?>(nil)
    }

    /// Whether the last batch was stored: while it is failing (a full disk), acknowledgements wait and the API
    /// refuses changes with `store.unavailable` rather than accepting what it cannot store.
    public var canWrite: Bool { writer.canWrite }

    /// `afterCommit` is told each committed batch, in commit order (the hub's live telemetry feed follows it).
    public init(
        store: any DeviceStateStore, clock: any WardenClock, logger: Logger, node: String? = nil,
        afterCommit: (@Sendable ([DeviceStateChange]) -> Void)? = nil
    ) {
        self.store = store
        self.clock = clock
        self.node = node
        let droppedChanges = Counter(label: "warden_mqtt_state_changes_dropped_total")
        let writeFailures = Counter(label: "warden_store_write_failures_total", dimensions: [("writer", "broker")])
        let fencedSessions = Counter(label: "warden_cluster_sessions_fenced_total")
        let fencedHandler = self.fencedHandler
        // A node of a cluster writes a session only while the session's row names it (`apply(_:fencedTo:)`).
        let apply: @Sendable ([DeviceStateChange]) async throws -> Void =
            if let node {
                { changes in
                    let fenced = try await store.apply(changes, fencedTo: node)
                    guard !fenced.isEmpty else { return }
                    fencedSessions.increment(by: fenced.count)
                    logger.warning(
                        "Left out the changes of sessions another node holds now.",
                        metadata: ["sessions": "\(fenced.count)"])
                    fencedHandler.handler.withLock { $0 }?(fenced)
                }
            } else {
                { changes in try await store.apply(changes) }
            }
        writer = GroupCommitWriter(
            store: { batch in try await Self.apply(&batch, with: apply, logger: logger, dropped: droppedChanges) },
            failed: { error, pending, givingUp in
                writeFailures.increment()
                if givingUp {
                    droppedChanges.increment(by: pending.count)
                    logger.critical(
                        "Stopping with broker state the store would not take.",
                        metadata: ["error": "\(error)", "changes": "\(pending.count)"])
                } else {
                    logger.error(
                        "Cannot store broker state; retrying.",
                        metadata: [
                            "error": "\(error)", "changes": "\(pending.count)",
                            "first": "\(pending.first.map(Self.describe) ?? "")",
                        ])
                }
            },
            afterCommit: afterCommit ?? { _ in })
    }

    /// Calls `handler`, while their batch commits, with the sessions whose changes the store left out because
    /// another node holds them now (it moved while this node could not hear of it).
    public func whenFenced(_ handler: @escaping @Sendable (Set<StoredSessionKey>) -> Void) {
        fencedHandler.handler.withLock { $0 = handler }
    }

    /// Queues changes for the next batch, in the order given; returns the ticket their commit reaches.
    @discardableResult
    public func record(_ changes: [DeviceStateChange]) -> UInt64 {
        writer.record(changes)
    }

    /// Returns once every change up to `ticket` is committed.
    public func committed(_ ticket: UInt64) async {
        await writer.committed(ticket)
    }

    /// Returns once every change recorded before the call is committed.
    public func committedSoFar() async {
        await writer.committed(writer.recordedCount)
    }

    /// How many changes have been recorded so far.
    var recordedCount: UInt64 { writer.recordedCount }

    /// How many changes have been committed (while a batch commits: those before it).
    var committedCount: UInt64 { writer.committedCount }

    /// Calls `body` once every change up to `ticket` is committed (at once if it is).
    public func whenCommitted(_ ticket: UInt64, _ body: @escaping @Sendable () -> Void) {
        writer.whenCommitted(ticket, body)
    }

    public func run() async throws {
        for await _ in writer.wakeUps.cancelOnGracefulShutdown() {
            await writer.commitPending()
        }
        // Shutting down: what was recorded is committed before the process ends, unless the store is down
        // (then a bounded number of attempts, so that the process still stops).
        await writer.commitPending(attempts: 11)
    }

    /// Commits what is pending now (tests; the service loop does this on every wake-up).
    func commitPending() async {
        await writer.commitPending()
    }

    /// Stores one batch. A batch that breaks a schema rule is split: each change is committed alone, and one
    /// that breaks a rule (a bug) is dropped, logged and counted rather than blocking every acknowledgement
    /// behind it. Any other failure (a full disk, an I/O error) leaves the rest in `batch` for the writer to try
    /// again, in order and whole, so nothing is acknowledged that was not stored.
    private static func apply(
        _ batch: inout [DeviceStateChange], with apply: @Sendable ([DeviceStateChange]) async throws -> Void,
        logger: Logger, dropped: Counter
    ) async throws {
        do {
            try await apply(batch)
        } catch  where isConstraintFailure(error) {
            for (index, change) in batch.enumerated() {
                do {
                    try await apply([change])
                } catch  where isConstraintFailure(error) {
                    dropped.increment()
                    logger.error(
                        "Dropped a broker state change the store refused.",
                        metadata: ["error": "\(error)", "change": "\(describe(change))"])
                } catch {
                    batch = Array(batch[index...])
                    throw error
                }
            }
        }
    }

    /// A change that breaks the schema's rules fails the same way every time; retrying cannot help.
    private static func isConstraintFailure(_ error: any Error) -> Bool {
        (error as? WardenError)?.code == .storeConstraintViolated
    }

    /// A change's kind and keys, never its payload.
    private static func describe(_ change: DeviceStateChange) -> String {
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
        case .deleteRetained(let tenantID, _, _): "deleteRetained \(tenantID)"
        case .putCloudToDevice(let message):
            "putCloudToDevice \(message.tenantID)/\(message.deviceID) #\(message.sequenceNumber)"
        case .updateCloudToDevice(let message):
            "updateCloudToDevice \(message.tenantID)/\(message.deviceID) #\(message.sequenceNumber)"
        case .lockCloudToDevice(let message, _):
            "lockCloudToDevice \(message.tenantID)/\(message.deviceID) #\(message.sequenceNumber)"
        case .deleteCloudToDevice(let sequence): "deleteCloudToDevice #\(sequence)"
        case .settleCloudToDevice(let sequence, let feedback):
            "settleCloudToDevice \(feedback.tenantID)/\(feedback.deviceID) #\(sequence)"
        case .putTwin(let twin, _): "putTwin \(twin.tenantID)/\(twin.deviceID)"
        case .deleteTwin(let tenantID, let deviceID): "deleteTwin \(tenantID)/\(deviceID)"
        case .appendTelemetry(let message):
            "appendTelemetry \(message.tenantID)/\(message.deviceID) #\(message.sequenceNumber)"
        }
    }
}
