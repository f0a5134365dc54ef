import Foundation
import WardenCore

extension DeviceRecord {
    /// The AAD binding a sealed key to its device, generation and slot.
    static func keyContext(
        _ tenant: some CustomStringConvertible, _ device: some CustomStringConvertible, _ generation: String,
        _ slot: String
    ) -> String {
        "device-key:\(tenant)/\(device)/\(generation)/\(slot)"
    }

    init(_ device: Device, sealer: any SecretSealer) throws {
        var primaryKey: Data?
        var secondaryKey: Data?
        var primaryThumbprint: String?
        var secondaryThumbprint: String?
        switch device.authentication {
        case .sas(let keys):
            let context = { Self.keyContext(device.tenantID, device.id, device.generationID, $0) }
            primaryKey = Data(try sealer.seal(keys.primary, context: context("primary")))
            secondaryKey = Data(try sealer.seal(keys.secondary, context: context("secondary")))
        case .x509Thumbprint(let primary, let secondary):
            primaryThumbprint = primary.rawValue
            secondaryThumbprint = secondary?.rawValue
        case .x509CA:
            break
        }
        self.init(
            tenantID: device.tenantID.rawValue, deviceID: device.id.rawValue,
            generationID: device.generationID, etag: device.etag, status: device.status.rawValue,
            statusReason: device.statusReason, statusUpdatedAt: device.statusUpdatedAt,
            authType: device.authentication.type.rawValue, sealedPrimaryKey: primaryKey,
            sealedSecondaryKey: secondaryKey, primaryThumbprint: primaryThumbprint,
            secondaryThumbprint: secondaryThumbprint, attributesJSON: try JSONColumn.encode(device.attributes),
            createdAt: device.createdAt, updatedAt: device.updatedAt)
    }

    func device(sealer: any SecretSealer) throws -> Device {
        let tenantID = try TenantID(tenantID)
        let deviceID = try DeviceID(deviceID)
        guard let status = Device.Status(rawValue: status), let type = Device.AuthenticationType(rawValue: authType)
        else { throw WardenError(.storeUnavailable, "The stored device \(deviceID) has an unknown status or type.") }
        let authentication: Device.Authentication
        switch type {
        case .sas:
            guard let primary = sealedPrimaryKey, let secondary = sealedSecondaryKey else {
                throw WardenError(.storeUnavailable, "The stored device \(deviceID) lacks its sealed keys.")
            }
            let context = { Self.keyContext(tenantID, deviceID, generationID, $0) }
            authentication = .sas(
                SASKeyPair(
                    primary: try sealer.open(Array(primary), context: context("primary")),
                    secondary: try sealer.open(Array(secondary), context: context("secondary"))))
        case .x509Thumbprint:
            guard let primary = primaryThumbprint else {
                throw WardenError(.storeUnavailable, "The stored device \(deviceID) lacks its thumbprint.")
            }
            authentication = .x509Thumbprint(
                primary: try Thumbprint(primary), secondary: try secondaryThumbprint.map { try Thumbprint($0) })
        case .x509CA:
            authentication = .x509CA
        }
        return Device(
            tenantID: tenantID, id: deviceID, generationID: generationID, etag: etag, status: status,
            statusReason: statusReason, statusUpdatedAt: statusUpdatedAt, authentication: authentication,
            attributes: try JSONColumn.decode([String: String].self, attributesJSON, column: "attributes"),
            createdAt: createdAt, updatedAt: updatedAt)
    }
}
