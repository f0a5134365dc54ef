public import WardenCore

/// Stored device twins. Reported properties are written through `DeviceStateStore.apply` (`.putTwin`) in the
/// broker's group commits; desired properties, which any node may change, by `replaceDesired`, which only one of
/// two writers at the same version wins.
public protocol TwinStore: Sendable {
    /// Every stored twin, for the hub to hold in memory.
    func loadTwins() async throws -> [DeviceTwin]
    /// One device's stored twin, nil when it has none.
    func twin(_ tenantID: TenantID, _ deviceID: DeviceID) async throws -> DeviceTwin?
    /// Stores `twin`'s desired section if the stored one is at `version` (0 when the device has no stored twin);
    /// false, storing nothing, when another writer moved it on first.
    func replaceDesired(of twin: DeviceTwin, ifAt version: Int) async throws -> Bool
}
