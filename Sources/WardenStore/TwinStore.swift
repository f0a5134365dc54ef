public import WardenCore

/// Stored device twins. They are written through `DeviceStateStore.apply` (`.putTwin`) in the broker's group
/// commits; this protocol loads them.
public protocol TwinStore: Sendable {
    /// Every stored twin, for the hub to hold in memory.
    func loadTwins() async throws -> [DeviceTwin]
    /// One device's stored twin, nil when it has none.
    func twin(_ tenantID: TenantID, _ deviceID: DeviceID) async throws -> DeviceTwin?
}
