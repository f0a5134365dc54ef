import Hummingbird
import WardenCore
import WardenRegistry

/// `/api/v1/tenants/{tenant}/shared-access-policies`: tenant-level SAS keys (`skn`).
struct PolicyController {
    let registry: RegistryService
    static let base = "/api/v1/tenants/{tenant}/shared-access-policies"

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, Self.base, "listSharedAccessPolicies", "List shared access policies (without keys)",
                permission: .registryRead, success: (200, "PolicyList")
            ) { request, context in
                let policies = try await registry.policies(try request.tenantID(context))
                return try JSONResponse.make(
                    ListResource(items: policies.map { PolicyResource($0, includeKeys: false) }, nextCursor: nil))
            },
            APIRoute(
                .post, Self.base, "createSharedAccessPolicy", "Create a policy; its keys are shown once",
                permission: .credentialsManage, request: "CreatePolicy", success: (201, "Policy")
            ) { request, context in
                let body = try await request.decodeJSON(CreatePolicyRequest.self, context)
                let policy = try await registry.createPolicy(
                    try request.tenantID(context), body.name, permissions: Set(body.permissions))
                return try JSONResponse.make(PolicyResource(policy, includeKeys: true), status: .created)
            },
            APIRoute(
                .delete, Self.base + "/{policy}", "deleteSharedAccessPolicy", "Delete a policy",
                permission: .credentialsManage, success: (204, nil)
            ) { request, context in
                try await registry.deletePolicy(
                    try request.tenantID(context), try PolicyName(try request.parameter("policy", context)))
                return JSONResponse.noContent()
            },
        ]
    }
}
