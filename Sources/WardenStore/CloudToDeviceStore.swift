public import WardenCore

/// Stored cloud-to-device queues and feedback. They are written through `DeviceStateStore.apply` in the broker's
/// group commits; this protocol loads and reads them.
public protocol CloudToDeviceStore: Sendable {
    /// Every queued message, in sequence order, for the hub to take up at start-up.
    func loadCloudToDeviceMessages() async throws -> [CloudToDeviceMessage]
    /// One queued message, nil when it is not (or no longer) queued.
    func cloudToDeviceMessage(sequence: Int64) async throws -> CloudToDeviceMessage?
    /// The device's queued message stored with HTTPS lock `lockToken` (running or not), nil when none is.
    func cloudToDeviceMessage(_ tenantID: TenantID, _ deviceID: DeviceID, lockToken: String) async throws
        -> CloudToDeviceMessage?
    /// The highest message and feedback sequence numbers stored (0 when none).
    func lastCloudToDeviceSequences() async throws -> (message: Int64, feedback: Int64)
    /// A tenant's feedback records after `afterSequence`, oldest first.
    func feedback(_ tenantID: TenantID, afterSequence: Int64, limit: Int) async throws -> [CloudToDeviceFeedback]
    /// Deletes feedback recorded before `before` (Unix milliseconds), at most `limit`; returns how many.
    func deleteFeedback(recordedBefore before: Int64, limit: Int) async throws -> Int
}
