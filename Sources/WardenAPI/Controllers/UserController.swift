import Foundation
import Hummingbird
import WardenAccess
import WardenCore

/// `/api/v1/users`, `/api/v1/service-principals` and `/api/v1/tenants/{tenant}/roles`: people, backend
/// applications and the roles they hold. Each caller sees only those with a role where it manages users.
struct UserController {
    let access: AccessService

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, "/api/v1/users", "listUsers", "List the users the caller manages", permission: .usersManage,
                success: (200, "UserList")
            ) { _, context in
                let users = access.users(visibleTo: try context.requirePrincipal())
                return try JSONResponse.make(ListResource(items: users.map { UserResource($0) }, nextCursor: nil))
            },
            APIRoute(
                .post, "/api/v1/users", "createUser",
                "Create a user (without a password, a one-time password is generated and shown once)",
                permission: .usersManage, request: "CreateUser", success: (201, "User")
            ) { request, context in
                let body = try await request.decodeJSON(CreateUserRequest.self, context)
                let created = try await access.createUser(
                    username: body.username, password: body.password.map { SecretBytes(Array($0.utf8)) },
                    isPlatformAdmin: body.platformAdmin ?? false, roles: try (body.roles ?? [:]).byTenant,
                    by: try context.requirePrincipal())
                context.auditDetail("after", Self.summary(created.user))
                return try JSONResponse.make(
                    UserResource(created.user, password: created.generatedPassword), status: .created,
                    headers: AuthController.noStore)
            },
            APIRoute(
                .get, "/api/v1/users/{user}", "getUser", "Show a user", permission: .usersManage,
                success: (200, "User")
            ) { request, context in
                let user = try access.user(
                    named: try request.parameter("user", context), visibleTo: try context.requirePrincipal())
                return try JSONResponse.make(UserResource(user))
            },
            APIRoute(
                .patch, "/api/v1/users/{user}", "updateUser", "Enable or disable a user (disabling ends its sessions)",
                permission: .usersManage, request: "UpdateUser", success: (200, "User")
            ) { request, context in
                let body = try await request.decodeJSON(UpdateUserRequest.self, context)
                let name = try request.parameter("user", context)
                let principal = try context.requirePrincipal()
                let before = try access.user(named: name, visibleTo: principal)
                let user = try await access.setEnabled(name, body.enabled, by: principal)
                context.auditDetail("before", Self.summary(before))
                context.auditDetail("after", Self.summary(user))
                return try JSONResponse.make(UserResource(user))
            },
            APIRoute(
                .delete, "/api/v1/users/{user}", "deleteUser", "Delete a user", permission: .usersManage,
                success: (204, nil)
            ) { request, context in
                let name = try request.parameter("user", context)
                let principal = try context.requirePrincipal()
                context.auditDetail("before", Self.summary(try access.user(named: name, visibleTo: principal)))
                try await access.deleteUser(name, by: principal)
                return JSONResponse.noContent()
            },
            APIRoute(
                .delete, "/api/v1/users/{user}/totp", "removeTOTP", "Remove a user's second factor",
                permission: .usersManage, success: (200, "User")
            ) { request, context in
                let user = try await access.removeTOTP(
                    try request.parameter("user", context), by: try context.requirePrincipal())
                return try JSONResponse.make(UserResource(user))
            },
            APIRoute(
                .get, "/api/v1/tenants/{tenant}/roles", "listRoles", "Who holds which role in the tenant",
                permission: .usersManage, success: (200, "RoleBindingList")
            ) { request, context in
                let tenant = try request.tenantID(context)
                let users = access.users().compactMap { user in
                    user.roles[tenant].map {
                        RoleBindingResource(
                            subject: user.username.rawValue, name: user.username.rawValue, kind: "user",
                            role: $0.rawValue)
                    }
                }
                let services = access.servicePrincipals().compactMap { service in
                    service.roles[tenant].map {
                        RoleBindingResource(subject: service.id, name: service.name, kind: "service", role: $0.rawValue)
                    }
                }
                return try JSONResponse.make(ListResource(items: users + services, nextCursor: nil))
            },
            APIRoute(
                .put, "/api/v1/tenants/{tenant}/roles/{subject}", "setRole",
                "Give a user (by username) or a service principal (by client id) a role in the tenant",
                permission: .usersManage, request: "Role", success: (200, "RoleBinding")
            ) { request, context in
                let body = try await request.decodeJSON(RoleRequest.self, context)
                return try await Self.setRole(body.role, request, context, access)
            },
            APIRoute(
                .delete, "/api/v1/tenants/{tenant}/roles/{subject}", "removeRole",
                "Take a user's or service principal's role in the tenant away", permission: .usersManage,
                success: (204, nil)
            ) { request, context in
                _ = try await Self.setRole(nil, request, context, access)
                return JSONResponse.noContent()
            },
            APIRoute(
                .get, "/api/v1/service-principals", "listServicePrincipals", "List service principals",
                permission: .usersManage, success: (200, "ServicePrincipalList")
            ) { _, context in
                let services = access.servicePrincipals(visibleTo: try context.requirePrincipal())
                return try JSONResponse.make(
                    ListResource(items: services.map { ServicePrincipalResource($0) }, nextCursor: nil))
            },
            APIRoute(
                .post, "/api/v1/service-principals", "createServicePrincipal",
                "Create a service principal (its client secret is shown once)", permission: .usersManage,
                request: "CreateServicePrincipal", success: (201, "ServicePrincipal")
            ) { request, context in
                let body = try await request.decodeJSON(CreateServicePrincipalRequest.self, context)
                let (service, secret) = try await access.createServicePrincipal(
                    name: body.name, roles: try body.roles.byTenant, by: try context.requirePrincipal())
                context.auditDetail("after", "\(service.id) \(service.name)")
                return try JSONResponse.make(
                    ServicePrincipalResource(service, secret: secret), status: .created,
                    headers: AuthController.noStore)
            },
            APIRoute(
                .get, "/api/v1/service-principals/{client}", "getServicePrincipal", "Show a service principal",
                permission: .usersManage, success: (200, "ServicePrincipal")
            ) { request, context in
                let service = try access.servicePrincipal(
                    id: try request.parameter("client", context), visibleTo: try context.requirePrincipal())
                return try JSONResponse.make(ServicePrincipalResource(service))
            },
            APIRoute(
                .post, "/api/v1/service-principals/{client}/secret", "rotateClientSecret",
                "Replace a service principal's client secret (the old one stops at once)",
                permission: .usersManage, success: (200, "ServicePrincipal")
            ) { request, context in
                let id = try request.parameter("client", context)
                let principal = try context.requirePrincipal()
                let secret = try await access.rotateSecret(of: id, by: principal)
                return try JSONResponse.make(
                    ServicePrincipalResource(try access.servicePrincipal(id: id, visibleTo: principal), secret: secret),
                    headers: AuthController.noStore)
            },
            APIRoute(
                .delete, "/api/v1/service-principals/{client}", "deleteServicePrincipal",
                "Delete a service principal", permission: .usersManage, success: (204, nil)
            ) { request, context in
                try await access.deleteServicePrincipal(
                    try request.parameter("client", context), by: try context.requirePrincipal())
                return JSONResponse.noContent()
            },
        ]
    }

    private static func setRole(
        _ role: Role?, _ request: Request, _ context: APIRequestContext, _ access: AccessService
    ) async throws -> Response {
        let tenant = try request.tenantID(context)
        let subject = try request.parameter("subject", context)
        let roles = try await access.setRole(role, for: subject, in: tenant, by: try context.requirePrincipal())
        context.auditDetail("after", "\(subject) \(role?.rawValue ?? "none")")
        return try JSONResponse.make(
            RoleBindingResource(
                subject: subject, name: subject, kind: subject.hasPrefix("sp_") ? "service" : "user",
                role: roles[tenant]?.rawValue ?? "none"))
    }

    /// A one-line description for the audit record's before/after: never a secret.
    static func summary(_ user: User) -> String {
        let roles = user.roles.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key)=\($0.value.rawValue)" }
        return
            "\(user.username) enabled=\(user.isEnabled) platformAdmin=\(user.isPlatformAdmin) roles=[\(roles.joined(separator: ","))]"
    }
}
