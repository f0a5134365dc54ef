public import WardenCore

/// Stored device-to-cloud messages. They are written through `DeviceStateStore.apply` (`.appendTelemetry`), in
/// the broker's group commits; this protocol reads and prunes them.
public protocol TelemetryStore: Sendable {
    /// One device's messages in sequence order: enqueued in `from..<to` (Unix milliseconds) and after
    /// `afterSequence`, at most `limit`.
    func telemetry(
        _ tenantID: TenantID, _ deviceID: DeviceID, from: Int64, to: Int64, afterSequence: Int64, limit: Int
    ) async throws -> [TelemetryMessage]
    /// The highest sequence number stored (0 when none), so that numbering continues after a restart.
    func lastTelemetrySequence() async throws -> Int64
    /// Deletes messages enqueued before `before` (Unix milliseconds), at most `limit`; returns how many.
    func deleteTelemetry(enqueuedBefore before: Int64, limit: Int) async throws -> Int
}
