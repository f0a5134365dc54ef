public import Logging
public import ServiceLifecycle
public import WardenCore
public import WardenStore

/// Deletes audit records older than the retention period, oldest first, and appends an `audit.retention`
/// record naming the last one deleted and its link, so that verification can start after the gap.
public struct AuditRetention: Service {
    static let action = "audit.retention"

    private let store: any AuditStore
    private let log: AuditLog
    private let retentionMilliseconds: Int64
    private let clock: any WardenClock
    private let logger: Logger
    private let duty: PeriodicDuty

    /// In a cluster only the node on `duty` sweeps.
    public init(
        store: any AuditStore, log: AuditLog, retentionDays: Int, clock: any WardenClock, logger: Logger,
        duty: PeriodicDuty = PeriodicDuty()
    ) {
        self.duty = duty
        self.store = store
        self.log = log
        // total: 1...36500 days (configuration), times 86,400,000 fits Int64.
        self.retentionMilliseconds = Int64(retentionDays) * 86_400_000
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while true {
                do {
                    if duty.isThisNode { try await sweep() }
                } catch {
                    logger.error("Audit retention failed; trying again in an hour.", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: .seconds(3600))
            }
        }
    }

    /// Deletes what is due, in batches of 10,000; returns how many records went.
    @discardableResult
    public func sweep() async throws -> Int64 {
        let cutoff = clock.nowMilliseconds() - retentionMilliseconds
        var lastDeleted: (sequence: Int64, chainHash: [UInt8])?
        while let deleted = try await store.deleteAuditRecords(before: cutoff, limit: 10_000) {
            lastDeleted = deleted
        }
        guard let lastDeleted else { return 0 }
        await log.recordDurably(
            AuditRecord(
                at: clock.nowMilliseconds(), tenant: nil, actorKind: "system", actor: "warden", sourceIP: "-",
                action: Self.action, target: "audit", outcome: .success,
                details: ["through": "\(lastDeleted.sequence)", "link": AuditHead.hex(lastDeleted.chainHash)]))
        logger.info("Deleted old audit records.", metadata: ["through": "\(lastDeleted.sequence)"])
        return lastDeleted.sequence
    }
}
