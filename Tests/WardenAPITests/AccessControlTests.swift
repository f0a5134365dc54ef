import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import WardenAPI
import WardenAccess
import WardenCore
import WardenRegistry
import WardenSecurity

/// Every guarded route against a principal of every role: allowed exactly when the role holds the route's
/// permission; another tenant's routes answer 404 as if the tenant did not exist.
struct AccessControlTests {
    static let password = "a long enough password"

    /// Tenants `default` and `other`, a user of each role in each, signed in; returns their access tokens.
    static func populate(_ fixture: APIFixture) async throws -> [String: String] {
        let admin = try #require(fixture.access.user(named: "admin")).principal
        _ = try await fixture.registry.createTenant(try TenantID("other"), hostName: nil)
        var tokens: [String: String] = [:]
        for tenant in ["default", "other"] {
            for role in Role.allCases {
                let name = "\(tenant)-\(role.rawValue)"
                _ = try await fixture.access.createUser(
                    username: name, password: SecretBytes(Array(Self.password.utf8)), isPlatformAdmin: false,
                    roles: [try TenantID(tenant): role], by: admin)
                tokens[name] = try await fixture.access.signIn(
                    username: name, password: SecretBytes(Array(Self.password.utf8)), totp: nil,
                    from: .unspecified
                ).accessToken
            }
        }
        return tokens
    }

    /// The route's path with `tenant` for `{tenant}` and `x` for every other parameter.
    static func concrete(_ route: APIRoute, tenant: String) -> String {
        route.path.replacingOccurrences(of: "{tenant}", with: tenant).replacing(/\{[a-z]+\}/, with: "x")
    }

    /// The code of the problem answering `route` for `token`, or nil when it succeeded.
    static func code(
        _ client: some TestClientProtocol, _ route: APIRoute, tenant: String, token: String
    ) async throws -> String? {
        let body = [HTTPRequest.Method.post, .put, .patch].contains(route.method) ? ByteBuffer(string: "{}") : nil
        return try await client.execute(
            uri: concrete(route, tenant: tenant), method: route.method,
            headers: [.authorization: "Bearer \(token)", .contentType: "application/json"], body: body
        ) { response in
            response.status.code < 400 ? nil : (response.problem?.code ?? "status-\(response.status.code)")
        }
    }

    @Test func eachRoleReachesExactlyTheRoutesItsPermissionsAllow() async throws {
        let fixture = try await APIFixture()
        let tokens = try await Self.populate(fixture)
        let guarded = fixture.router.routes.filter { $0.permission != nil && $0.path.contains("{tenant}") }
        #expect(guarded.count > 40)
        try await fixture.test { client in
            for role in Role.allCases {
                for route in guarded {
                    let code = try await Self.code(
                        client, route, tenant: "default", token: tokens["default-\(role.rawValue)"]!)
                    let allowed = role.permissions.contains(route.permission!)
                    if allowed {
                        #expect(
                            code != "auth.forbidden" && code != "tenant.not_found",
                            "\(role) \(route.method) \(route.path): \(code ?? "ok")")
                    } else {
                        #expect(code == "auth.forbidden", "\(role) \(route.method) \(route.path): \(code ?? "ok")")
                    }
                }
            }
        }
    }

    /// An enrollment that assigns devices to another tenant creates devices there: an admin of `default` who
    /// holds no role in `other` may not name it; a platform administrator may.
    @Test func assigningRegistrationsToAnotherTenantNeedsRegistryWriteThere() async throws {
        let fixture = try await APIFixture()
        let tokens = try await Self.populate(fixture)
        let body = #"{"name": "g1", "allocationPolicy": "hashed", "tenants": ["default", "other"]}"#
        try await fixture.test { client in
            func create(_ token: String, _ body: String) async throws -> (HTTPResponse.Status, String?) {
                try await client.execute(
                    uri: "/api/v1/tenants/default/provisioning/groups", method: .post,
                    headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                    body: ByteBuffer(string: body)
                ) { ($0.status, $0.problem?.code) }
            }
            let refused = try await create(tokens["default-admin"]!, body)
            #expect(refused == (.forbidden, "auth.forbidden"))
            let own = try await create(tokens["default-admin"]!, #"{"name": "g2", "tenants": ["default"]}"#)
            #expect(own.0 == .created)
            #expect(try await create(APIFixture.credential, body).0 == .created)
            // Made by the platform administrator, the group's keys and settings reach `other`: the tenant's own
            // admin may neither read its keys nor change it (even its status), but may delete it.
            let member = "/api/v1/tenants/default/provisioning/groups/g1"
            func call(_ method: HTTPRequest.Method, _ body: String?) async throws -> HTTPResponse.Status {
                try await client.execute(
                    uri: member, method: method,
                    headers: [.authorization: "Bearer \(tokens["default-admin"]!)", .contentType: "application/json"],
                    body: body.map { ByteBuffer(string: $0) }
                ) { $0.status }
            }
            #expect(try await call(.get, nil) == .forbidden)
            #expect(try await call(.patch, #"{"provisioningStatus": "disabled"}"#) == .forbidden)
            #expect(try await call(.patch, #"{"tenants": ["default"]}"#) == .forbidden)
            #expect(try await call(.delete, nil) == .noContent)
        }
    }

    @Test func anotherTenantsRoutesAnswerNotFoundForEveryRole() async throws {
        let fixture = try await APIFixture()
        let tokens = try await Self.populate(fixture)
        let scoped = fixture.router.routes.filter { $0.permission != nil && $0.path.contains("{tenant}") }
        try await fixture.test { client in
            for role in Role.allCases {
                let token = tokens["other-\(role.rawValue)"]!
                for route in scoped {
                    let existing = try await Self.code(client, route, tenant: "default", token: token)
                    let missing = try await Self.code(client, route, tenant: "no-such-tenant", token: token)
                    #expect(existing == "tenant.not_found", "\(role) \(route.method) \(route.path)")
                    #expect(existing == missing, "\(role) \(route.method) \(route.path)")
                }
            }
        }
    }

    @Test func platformRoutesNeedThePlatformRole() async throws {
        let fixture = try await APIFixture()
        let tokens = try await Self.populate(fixture)
        let platform = fixture.router.routes.filter {
            $0.permission.map(Permission.platformOnly.contains) == true && !$0.path.contains("{tenant}")
        }
        #expect(!platform.isEmpty)
        try await fixture.test { client in
            for route in platform {
                let owner = try await Self.code(client, route, tenant: "default", token: tokens["default-owner"]!)
                let platformAdmin = try await Self.code(client, route, tenant: "default", token: APIFixture.credential)
                #expect(owner == "auth.forbidden", "\(route.method) \(route.path)")
                #expect(platformAdmin != "auth.forbidden", "\(route.method) \(route.path)")
            }
        }
    }

    @Test func theTenantListShowsOnlyOnesOwnTenants() async throws {
        let fixture = try await APIFixture()
        let tokens = try await Self.populate(fixture)
        try await fixture.test { client in
            try await client.execute(
                uri: "/api/v1/tenants", method: .get, headers: [.authorization: "Bearer \(tokens["other-monitor"]!)"]
            ) { response in
                let items = (response.json?["items"] as? [[String: Any]])?.compactMap { $0["tenantId"] as? String }
                #expect(items == ["other"])
            }
        }
    }

    @Test func apiKeysReachOnlyTheirPermissionsAndGroup() async throws {
        let fixture = try await APIFixture()
        let admin = try #require(fixture.access.user(named: "admin")).principal
        _ = try await fixture.registry.createDevice(.defaultTenant, .init(id: try DeviceID("in-group")))
        _ = try await fixture.registry.createDevice(.defaultTenant, .init(id: try DeviceID("outside")))
        _ = try await fixture.registry.createGroup(
            .defaultTenant, try GroupName("line-1"), description: "", members: [try DeviceID("in-group")])
        let (_, secret) = try await fixture.access.createAPIKey(
            in: .defaultTenant, name: "line-1 telemetry", permissions: [.telemetryRead],
            deviceGroup: try GroupName("line-1"), expiresAt: nil, by: admin)
        let key = String(decoding: secret.bytes, as: UTF8.self)
        try await fixture.test { client in
            func status(_ uri: String) async throws -> HTTPResponse.Status {
                try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(key)"]) {
                    $0.status
                }
            }
            let statuses = [
                try await status("/api/v1/tenants/default/devices/in-group/telemetry"),
                try await status("/api/v1/tenants/default/devices/outside/telemetry"),
                try await status("/api/v1/tenants/default/devices"),
                try await status("/api/v1/tenants/default/devices/in-group"),
                try await status("/api/v1/tenants/other/devices/in-group/telemetry"),
            ]
            #expect(statuses == [.ok, .forbidden, .forbidden, .forbidden, .notFound])
        }
    }
}
