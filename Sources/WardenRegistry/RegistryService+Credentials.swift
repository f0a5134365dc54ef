import Crypto
public import Foundation
public import WardenCore
import WardenSecurity

extension RegistryService {
    /// The longest SAS token lifetime the API issues (one year).
    public static let maximumTokenLifetime: TimeInterval = 365 * 86_400

    /// Azure's device connection string: `HostName=…;DeviceId=…;SharedAccessKey=…`, plus `GatewayHostName`
    /// when the tenant's host name is not the address devices should dial.
    public func connectionString(_ tenantID: TenantID, _ id: DeviceID, gatewayHostName: String?) async throws
        -> SecretBytes
    {
        let tenant = try await tenant(tenantID)
        let device = try await device(tenantID, id)
        guard case .sas(let keys) = device.authentication else {
            throw WardenError(.deviceNotSAS, "Device '\(id)' authenticates with certificates; it has no key.")
        }
        var text = "HostName=\(tenant.hostName.rawValue);DeviceId=\(id.rawValue);SharedAccessKey=\(keys.primary.base64)"
        if let gatewayHostName, gatewayHostName.lowercased() != tenant.hostName.rawValue {
            text += ";GatewayHostName=\(gatewayHostName)"
        }
        return SecretBytes(Array(text.utf8))
    }

    /// A SAS token for the device, signed with its primary key, valid for `lifetime`.
    public func sasToken(_ tenantID: TenantID, _ id: DeviceID, lifetime: TimeInterval) async throws
        -> (token: SecretBytes, expiry: Date)
    {
        guard lifetime >= 1, lifetime <= Self.maximumTokenLifetime else {
            throw WardenError(.sasInvalidLifetime, "A token lifetime runs from 1 second to 365 days.")
        }
        let tenant = try await tenant(tenantID)
        let device = try await device(tenantID, id)
        guard case .sas(let keys) = device.authentication else {
            throw WardenError(.deviceNotSAS, "Device '\(id)' authenticates with certificates; it has no key.")
        }
        let expiry = clock.now().addingTimeInterval(lifetime)
        let token = SASTokenSigner.token(
            resource: "\(tenant.hostName.rawValue)/devices/\(id.rawValue)",
            key: .init(data: keys.primary.bytes), expiry: expiry.unixSeconds)
        return (SecretBytes(Array(token.utf8)), expiry)
    }
}
