import Hummingbird
import WardenCore
import WardenRegistry

/// `/api/v1/tenants`.
struct TenantController {
    let registry: RegistryService

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, "/api/v1/tenants", "listTenants", "List the tenants the caller holds a role in",
                permission: .tenantsRead, success: (200, "TenantList")
            ) { request, context in
                let (cursor, limit) = try request.pagination
                let principal = try context.requirePrincipal()
                let page = try await registry.tenants(after: cursor, limit: limit)
                return try JSONResponse.make(
                    ListResource(
                        items: page.items.filter { principal.canSee($0.id) }.map(TenantResource.init),
                        nextCursor: PageCursor.encode(page.nextCursor)))
            },
            APIRoute(
                .post, "/api/v1/tenants", "createTenant", "Create a tenant", permission: .tenantsManage,
                request: "CreateTenant", success: (201, "Tenant")
            ) { request, context in
                let body = try await request.decodeJSON(CreateTenantRequest.self, context)
                let tenant = try await registry.createTenant(body.tenantID, hostName: body.hostName)
                return try JSONResponse.make(TenantResource(tenant), status: .created)
            },
            APIRoute(
                .get, "/api/v1/tenants/{tenant}", "getTenant", "Show a tenant", permission: .tenantsRead,
                success: (200, "Tenant")
            ) { request, context in
                try JSONResponse.make(TenantResource(try await registry.tenant(try request.tenantID(context))))
            },
            APIRoute(
                .delete, "/api/v1/tenants/{tenant}", "deleteTenant", "Delete an empty tenant",
                permission: .tenantsManage, success: (204, nil)
            ) { request, context in
                try await registry.deleteTenant(try request.tenantID(context))
                return JSONResponse.noContent()
            },
        ]
    }
}
