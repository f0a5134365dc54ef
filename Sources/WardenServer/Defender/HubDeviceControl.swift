import WardenCore
import WardenDefender
import WardenPKI
import WardenRegistry

/// The Defender's responses that change a device, through the registry's and the PKI's one write paths: its
/// live connections close by the events those publish (`deviceUpdated`, `certificateRevoked`).
struct HubDeviceControl: DeviceControl {
    let registry: RegistryService
    let certificates: CertificateService

    /// `warden device enable` undoes it.
    func disable(_ deviceID: DeviceID, in tenantID: TenantID, reason: String) async throws -> Bool {
        guard try await registry.device(tenantID, deviceID).status == .enabled else { return false }
        _ = try await registry.updateDevice(
            tenantID, deviceID,
            .init(status: .disabled, statusReason: .some(String(reason.prefix(Device.maximumStatusReasonLength)))),
            ifMatch: nil)
        return true
    }

    /// Both keys: a guessed or stolen one of either slot stops working.
    func rotateKeys(_ deviceID: DeviceID, in tenantID: TenantID) async throws -> Bool {
        guard case .sas = try await registry.device(tenantID, deviceID).authentication else { return false }
        _ = try await registry.rotateKeys(tenantID, deviceID, .primary, ifMatch: nil)
        _ = try await registry.rotateKeys(tenantID, deviceID, .secondary, ifMatch: nil)
        return true
    }

    func revokeCertificates(_ deviceID: DeviceID, in tenantID: TenantID) async throws -> Int {
        try await certificates.revokeCertificates(of: deviceID, in: tenantID, reason: .keyCompromise)
    }
}
