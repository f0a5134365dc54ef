public import Logging
import Metrics
public import ServiceLifecycle
public import WardenCore
public import WardenStore

/// Deletes telemetry and cloud-to-device feedback older than the retention (`telemetry.retention-days`), once
/// a minute, in bounded batches so that no single transaction holds the writer long (in a cluster, on the node on
/// duty).
public struct TelemetryRetention: Service {
    static let batch = 10_000

    let store: any TelemetryStore & CloudToDeviceStore
    let retention: Duration
    let clock: any WardenClock
    let logger: Logger
    let duty: PeriodicDuty
    private let deleted = Counter(label: "warden_telemetry_expired_total")

    public init(
        store: any TelemetryStore & CloudToDeviceStore, retention: Duration, clock: any WardenClock, logger: Logger,
        duty: PeriodicDuty = PeriodicDuty()
    ) {
        self.duty = duty
        self.store = store
        self.retention = retention
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if duty.isThisNode { await sweep() }
                try await Task.sleep(for: .seconds(60))
            }
        }
    }

    /// Deletes everything past the retention now.
    func sweep() async {
        let cutoff = clock.nowMilliseconds() - retention.milliseconds
        do {
            while true {
                let count = try await store.deleteTelemetry(enqueuedBefore: cutoff, limit: Self.batch)
                deleted.increment(by: count)
                if count < Self.batch { break }
            }
            while try await store.deleteFeedback(recordedBefore: cutoff, limit: Self.batch) == Self.batch {}
        } catch {
            logger.error("Cannot delete expired telemetry; trying again in a minute.", metadata: ["error": "\(error)"])
        }
    }
}

extension Duration {
    /// The whole milliseconds in this duration.
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
