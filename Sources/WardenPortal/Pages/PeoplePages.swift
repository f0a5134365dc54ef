import Foundation
import Hummingbird
import WardenAPI
import WardenAccess
import WardenCore
import WardenHub
import WardenRegistry
import WardenSecurity

extension Pages {
    struct UserRow {
        let name: String
        let roles: String
        let totp: String
        let enabled: Bool
        let platformAdmin: Bool
        let isSelf: Bool
    }

    struct UsersPage {
        let users: [UserRow]
        let tenantChoices: [String]
        let roleChoices: [String]
        let csrf: String
        let password: String?
        let createdName: String?
    }

    struct RoleRow {
        let name: String
        let kind: String
        let role: String
    }

    struct RolesPage {
        let tenant: String
        let bindings: [RoleRow]
        let roleChoices: [String]
        let csrf: String
    }

    struct KeyRow {
        let id: String
        let name: String
        let permissions: String
        let group: String
        let expires: String
        let lastUsed: String
        let state: String
        let active: Bool
    }

    struct KeysPage {
        let tenant: String
        let keys: [KeyRow]
        let permissionChoices: [String]
        let csrf: String
        let secret: String?
        let createdName: String?
    }

    var peopleRoutes: [PortalRoute] {
        [
            PortalRoute(.get, "/users", "users", permission: .usersManage) { request, portal in
                try await usersPage(request, portal, created: nil)
            },
            PortalRoute(.post, "/users", "createUser", permission: .usersManage) { request, portal in
                let tenant = try TenantID(portal.field("tenant"))
                guard let role = Role(rawValue: portal.field("role")) else {
                    throw WardenError(.requestInvalidField, "Choose a role.")
                }
                let created = try await dependencies.access.createUser(
                    username: portal.field("username"), password: nil, isPlatformAdmin: false, roles: [tenant: role],
                    by: portal.principal)
                portal.context.auditDetail("after", "\(created.user.username) \(tenant)=\(role.rawValue)")
                return try await usersPage(request, portal, created: created)
            },
            PortalRoute(.post, "/users/{user}/status", "setUserEnabled", permission: .usersManage) { _, portal in
                let name = portal.parameter("user")
                let enabled = portal.field("enabled") == "true"
                _ = try await dependencies.access.setEnabled(name, enabled, by: portal.principal)
                portal.context.auditDetail("after", "\(name) enabled=\(enabled)")
                return .redirect("/users")
            },
            PortalRoute(.get, "/t/{tenant}/roles", "roles", permission: .usersManage) { request, portal in
                let tenant = try portal.requireTenant()
                let users = dependencies.access.users().compactMap { user in
                    user.roles[tenant].map { RoleRow(name: user.username.rawValue, kind: "user", role: $0.rawValue) }
                }
                let services = dependencies.access.servicePrincipals().compactMap { service in
                    service.roles[tenant].map {
                        RoleRow(name: "\(service.name) (\(service.id))", kind: "service", role: $0.rawValue)
                    }
                }
                return page(
                    "roles",
                    RolesPage(
                        tenant: tenant.rawValue, bindings: users + services,
                        roleChoices: grantable(portal.principal, in: tenant), csrf: portal.session.csrf),
                    title: "Roles", request, portal)
            },
            PortalRoute(.post, "/t/{tenant}/roles", "setRole", permission: .usersManage) { _, portal in
                let tenant = try portal.requireTenant()
                let choice = portal.field("role")
                let role = choice == "none" ? nil : Role(rawValue: choice)
                guard role != nil || choice == "none" else { throw WardenError(.requestInvalidField, "Choose a role.") }
                _ = try await dependencies.access.setRole(
                    role, for: portal.field("subject"), in: tenant, by: portal.principal)
                portal.context.auditDetail("after", "\(portal.field("subject")) \(choice)")
                return .redirect("/t/\(tenant.rawValue)/roles")
            },
            PortalRoute(.get, "/t/{tenant}/api-keys", "apiKeys", permission: .apiKeysManage) { request, portal in
                keysPage(request, portal, created: nil)
            },
            PortalRoute(.post, "/t/{tenant}/api-keys", "createAPIKey", permission: .apiKeysManage) { request, portal in
                let tenant = try portal.requireTenant()
                let permissions = Set(Permission.allCases.filter { portal.form["permission.\($0.rawValue)"] == "on" })
                let group = portal.field("group")
                let days = portal.field("days")
                var expiresAt: Date?
                if !days.isEmpty {
                    // total: parses text: nil unless a number in range, then 1...3650.
                    guard let count = Int(days), (1...3650).contains(count) else {
                        throw WardenError(.requestInvalidField, "Expiry is a number of days from 1 to 3650.")
                    }
                    expiresAt = dependencies.clock.now().addingTimeInterval(Double(count) * 86_400)
                }
                let deviceGroup = group.isEmpty ? nil : try GroupName(group)
                if let deviceGroup, await !dependencies.registry.groupExists(tenant, deviceGroup) {
                    throw WardenError(.apiKeyInvalidScope, "There is no group '\(deviceGroup)' in '\(tenant)'.")
                }
                let created = try await dependencies.access.createAPIKey(
                    in: tenant, name: portal.field("name"), permissions: permissions, deviceGroup: deviceGroup,
                    expiresAt: expiresAt, by: portal.principal)
                portal.context.auditDetail("after", "\(created.0.id) \(created.0.name)")
                return keysPage(request, portal, created: created)
            },
            PortalRoute(.post, "/t/{tenant}/api-keys/{key}/revoke", "revokeAPIKey", permission: .apiKeysManage) {
                _, portal in
                let tenant = try portal.requireTenant()
                let key = try await dependencies.access.revokeAPIKey(in: tenant, id: portal.parameter("key"))
                portal.context.auditDetail("after", "\(key.id) revoked")
                return .redirect("/t/\(tenant.rawValue)/api-keys")
            },
        ]
    }

    private func usersPage(_ request: Request, _ portal: PortalRequest, created: AccessService.NewUser?) async throws
        -> Response
    {
        let principal = portal.principal
        let rows = dependencies.access.users(visibleTo: principal).map { user in
            UserRow(
                name: user.username.rawValue, roles: Self.roles(user.roles),
                totp: user.totpSecret == nil ? "off" : "on",
                enabled: user.isEnabled, platformAdmin: user.isPlatformAdmin, isSelf: user.id == principal.id)
        }
        let tenantChoices = try await tenantSummaries(principal).map(\.id)
            .filter { (try? TenantID($0)).map { principal.may(.usersManage, in: $0) } ?? false }
        let first = tenantChoices.first.flatMap { try? TenantID($0) }
        return page(
            "users",
            UsersPage(
                users: rows, tenantChoices: tenantChoices,
                roleChoices: first.map { grantable(principal, in: $0) } ?? [], csrf: portal.session.csrf,
                password: created?.generatedPassword.map { String(decoding: $0.bytes, as: UTF8.self) },
                createdName: created?.user.username.rawValue),
            title: "Users", request, portal)
    }

    private func keysPage(_ request: Request, _ portal: PortalRequest, created: (APIKey, SecretBytes)?) -> Response {
        let tenant = portal.tenant ?? .defaultTenant
        let now = dependencies.clock.now()
        let rows = dependencies.access.apiKeys(in: tenant).map { key in
            KeyRow(
                id: key.id, name: key.name,
                permissions: key.permissions.map(\.rawValue).sorted().joined(separator: ", "),
                group: key.deviceGroup?.rawValue ?? "-", expires: key.expiresAt.map(Self.time) ?? "never",
                lastUsed: key.lastUsedAt.map(Self.time) ?? "never",
                state: key.revokedAt != nil ? "revoked" : (key.isUsable(at: now) ? "active" : "expired"),
                active: key.isUsable(at: now))
        }
        let held = portal.principal.permissions(in: tenant).subtracting(Permission.platformOnly).subtracting([
            .ownAccount
        ])
        return page(
            "apikeys",
            KeysPage(
                tenant: tenant.rawValue, keys: rows, permissionChoices: held.map(\.rawValue).sorted(),
                csrf: portal.session.csrf, secret: created.map { String(decoding: $0.1.bytes, as: UTF8.self) },
                createdName: created?.0.name),
            title: "API keys", request, portal)
    }

    private func grantable(_ principal: Principal, in tenant: TenantID) -> [String] {
        Role.allCases.filter { principal.isPlatformAdmin || (principal.roles[tenant]?.mayGrant($0) ?? false) }
            .map(\.rawValue)
    }
}
