import Foundation
import Hummingbird
import WardenAccess
import WardenCore
import WardenRegistry

/// `/api/v1/tenants/{tenant}/api-keys`: keys for data access, shown once, revocable.
struct APIKeyController {
    let access: AccessService
    let registry: RegistryService

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, "/api/v1/tenants/{tenant}/api-keys", "listAPIKeys", "List the tenant's API keys",
                permission: .apiKeysManage, success: (200, "APIKeyList")
            ) { request, context in
                let keys = access.apiKeys(in: try request.tenantID(context))
                return try JSONResponse.make(ListResource(items: keys.map { APIKeyResource($0) }, nextCursor: nil))
            },
            APIRoute(
                .post, "/api/v1/tenants/{tenant}/api-keys", "createAPIKey",
                "Create an API key (its secret is shown once)", permission: .apiKeysManage,
                request: "CreateAPIKey", success: (201, "APIKey")
            ) { request, context in
                let body = try await request.decodeJSON(CreateAPIKeyRequest.self, context)
                let expiresAt = try body.expiresAt.map { text in
                    guard let date = ISO8601DateFormatter().date(from: text) else {
                        throw WardenError(.requestInvalidField, "'expiresAt' must be an ISO 8601 time.")
                    }
                    return date
                }
                let tenant = try request.tenantID(context)
                let group = try body.deviceGroup.map(GroupName.init)
                if let group, await !registry.groupExists(tenant, group) {
                    throw WardenError(.apiKeyInvalidScope, "There is no group '\(group)' in '\(tenant)'.")
                }
                let (key, secret) = try await access.createAPIKey(
                    in: tenant, name: body.name, permissions: Set(body.permissions), deviceGroup: group,
                    expiresAt: expiresAt, by: try context.requirePrincipal())
                context.auditDetail(
                    "after",
                    "\(key.id) \(key.name) [\(key.permissions.map(\.rawValue).sorted().joined(separator: ","))]")
                return try JSONResponse.make(
                    APIKeyResource(key, secret: secret), status: .created, headers: AuthController.noStore)
            },
            APIRoute(
                .delete, "/api/v1/tenants/{tenant}/api-keys/{key}", "revokeAPIKey", "Revoke an API key at once",
                permission: .apiKeysManage, success: (200, "APIKey")
            ) { request, context in
                let key = try await access.revokeAPIKey(
                    in: try request.tenantID(context), id: try request.parameter("key", context))
                return try JSONResponse.make(APIKeyResource(key))
            },
        ]
    }
}
