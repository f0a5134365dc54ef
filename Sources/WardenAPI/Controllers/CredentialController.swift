import Hummingbird
import WardenCore
import WardenRegistry

/// Device keys, key rotation, connection strings and SAS tokens: everything that reveals a secret.
struct CredentialController {
    let registry: RegistryService
    /// The host devices dial; named as `GatewayHostName` when a tenant's host name differs.
    let gatewayHostName: String
    static let base = DeviceController.base + "/{device}"

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, Self.base + "/keys", "getDeviceKeys", "Show a SAS device's keys",
                permission: .credentialsManage, success: (200, "Device")
            ) { request, context in
                let device = try await registry.device(try request.tenantID(context), try request.deviceID(context))
                guard case .sas = device.authentication else {
                    throw WardenError(.deviceNotSAS, "Device '\(device.id)' authenticates with certificates.")
                }
                return try JSONResponse.make(DeviceResource(device, includeKeys: true), etag: device.etag)
            },
            APIRoute(
                .post, Self.base + "/keys/rotate", "rotateDeviceKey",
                "Regenerate the primary or secondary key, or swap them", permission: .credentialsManage,
                request: "RotateKey", success: (200, "Device")
            ) { request, context in
                let body = try await request.decodeJSON(RotateKeyRequest.self, context)
                let device = try await registry.rotateKeys(
                    try request.tenantID(context), try request.deviceID(context), body.key, ifMatch: request.ifMatch)
                return try JSONResponse.make(DeviceResource(device, includeKeys: true), etag: device.etag)
            },
            APIRoute(
                .get, Self.base + "/connection-string", "getConnectionString",
                "The device's connection string (primary key)", permission: .credentialsManage,
                success: (200, "ConnectionString")
            ) { request, context in
                let secret = try await registry.connectionString(
                    try request.tenantID(context), try request.deviceID(context), gatewayHostName: gatewayHostName)
                return try JSONResponse.make(
                    ConnectionStringResource(connectionString: String(decoding: secret.bytes, as: UTF8.self)))
            },
            APIRoute(
                .post, Self.base + "/sas-tokens", "issueSASToken", "Issue a SAS token signed with the primary key",
                permission: .credentialsManage, request: "IssueToken", success: (201, "Token")
            ) { request, context in
                let body = try await request.decodeJSON(IssueTokenRequest.self, context)
                let (token, expiry) = try await registry.sasToken(
                    try request.tenantID(context), try request.deviceID(context), lifetime: Double(body.ttlSeconds))
                return try JSONResponse.make(
                    TokenResource(token: String(decoding: token.bytes, as: UTF8.self), expiresAt: expiry),
                    status: .created)
            },
        ]
    }
}
