import WardenCore
import WardenDefender
import WardenRegistry

/// The Defender's `disable` response through the registry's one write path: the device's live connections
/// close (`deviceUpdated(.status)`), and `warden device enable` undoes it.
struct RegistryDeviceControl: DeviceControl {
    let registry: RegistryService

    func disable(_ deviceID: DeviceID, in tenantID: TenantID, reason: String) async throws -> Bool {
        guard try await registry.device(tenantID, deviceID).status == .enabled else { return false }
        _ = try await registry.updateDevice(
            tenantID, deviceID,
            .init(status: .disabled, statusReason: .some(String(reason.prefix(Device.maximumStatusReasonLength)))),
            ifMatch: nil)
        return true
    }
}
