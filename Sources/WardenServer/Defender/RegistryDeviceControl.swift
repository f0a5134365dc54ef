import WardenCore
import WardenDefender
import WardenRegistry

/// The Defender's `disable` response through the registry's one write path: the device's live connections
/// close (`deviceUpdated(.status)`), and `warden device enable` undoes it.
struct RegistryDeviceControl: DeviceControl {
    let registry: RegistryService

    func disable(_ deviceID: DeviceID, in tenantID: TenantID, reason: String) async throws {
        _ = try await registry.updateDevice(
            tenantID, deviceID,
            .init(status: .disabled, statusReason: .some(String(reason.prefix(Device.maximumStatusReasonLength)))),
            ifMatch: nil)
    }
}
