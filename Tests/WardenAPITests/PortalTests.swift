import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import WardenAPI
import WardenAccess
import WardenCore
import WardenPortal
import WardenRegistry
import WardenSecurity

/// The portal's guards, driven in-process: every page and form against every role, CSRF on every form,
/// the security headers, and no open redirect after sign-in.
struct PortalTests {
    /// Cookies of a portal session for `name`, signed in through the sign-in form.
    static func session(_ client: some TestClientProtocol, _ name: String) async throws -> (
        cookie: String, csrf: String
    ) {
        let csrf = try await client.execute(uri: "/signin", method: .get) { response in
            try #require(Self.cookies(response)["warden_csrf"])
        }
        let form = "_csrf=\(csrf)&next=%2F&username=\(name)&password=a+long+enough+password"
        return try await client.execute(
            uri: "/signin", method: .post,
            headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "warden_csrf=\(csrf)"],
            body: ByteBuffer(string: form)
        ) { response in
            #expect(response.status == .seeOther)
            let cookies = Self.cookies(response)
            let session = try #require(cookies["warden_session"])
            let newCSRF = try #require(cookies["warden_csrf"])
            #expect(newCSRF != csrf)
            return ("warden_session=\(session); warden_csrf=\(newCSRF)", newCSRF)
        }
    }

    static func cookies(_ response: TestResponse) -> [String: String] {
        var cookies: [String: String] = [:]
        for field in response.headers where field.name == .setCookie {
            let pair = field.value.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            if pair.count == 2 { cookies[String(pair[0])] = String(pair[1]) }
        }
        return cookies
    }

    static func concrete(_ route: PortalRoute) -> String {
        route.path.replacingOccurrences(of: "{tenant}", with: "default").replacing(/\{[a-z]+\}/, with: "x")
    }

    @Test func templatesParseAndEveryGuardedRouteDeclaresAPermission() async throws {
        let fixture = try await APIFixture()
        #expect(fixture.portal.templatesParse)
        let unguarded = fixture.portal.routes.filter { $0.permission == nil }.map(\.path)
        #expect(Set(unguarded) == ["/signin", "/static/portal.css", "/static/portal.js"])
    }

    @Test func signedOutBrowsersAreSentToSignInAndTheAPIToo() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            for route in fixture.portal.routes where route.permission != nil && route.method == .get {
                try await client.execute(uri: Self.concrete(route), method: .get) { response in
                    #expect(response.status == .seeOther, "\(route.path)")
                    #expect(response.headers[.location]?.hasPrefix("/signin?next=") == true, "\(route.path)")
                }
            }
            try await client.execute(
                uri: "/api/v1/tenants", method: .get, headers: [.accept: "text/html,application/xhtml+xml"]
            ) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/signin?next=%2Fapi%2Fv1%2Ftenants")
            }
        }
    }

    @Test func everyFormRefusesAMissingOrWrongCSRFToken() async throws {
        let fixture = try await APIFixture()
        try await Self.users(fixture)
        try await fixture.test { client in
            let (cookie, csrf) = try await Self.session(client, "role-owner")
            for route in fixture.portal.routes where route.method == .post && route.path != "/signin" {
                for token in ["", "_csrf=wrong", "_csrf=\(csrf.dropLast())"] {
                    try await client.execute(
                        uri: Self.concrete(route), method: .post,
                        headers: [.contentType: "application/x-www-form-urlencoded", .cookie: cookie],
                        body: ByteBuffer(string: token + "&deviceId=y")
                    ) { response in
                        #expect(response.status == .forbidden, "\(route.path) \(token)")
                    }
                }
            }
            // The sign-in form itself needs the token too (login CSRF).
            try await client.execute(
                uri: "/signin", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "warden_csrf=abc"],
                body: ByteBuffer(string: "_csrf=abd&username=role-owner&password=a+long+enough+password")
            ) { #expect($0.status == .forbidden) }
        }
    }

    @Test func eachRoleSeesExactlyThePagesItsPermissionsAllow() async throws {
        let fixture = try await APIFixture()
        try await Self.users(fixture)
        try await fixture.test { client in
            for role in Role.allCases {
                let (cookie, csrf) = try await Self.session(client, "role-" + role.rawValue)
                for route in fixture.portal.routes where route.permission != nil {
                    let permission = try #require(route.permission)
                    let tenant: TenantID? = route.path.contains("{tenant}") ? .defaultTenant : nil
                    let allowed =
                        permission == .ownAccount
                        || (tenant.map { role.permissions.contains(permission) && $0 == .defaultTenant }
                            ?? (!Permission.platformOnly.contains(permission)))
                    let status = try await client.execute(
                        uri: Self.concrete(route), method: route.method,
                        headers: [.contentType: "application/x-www-form-urlencoded", .cookie: cookie],
                        body: route.method == .post ? ByteBuffer(string: "_csrf=\(csrf)") : nil
                    ) { $0.status }
                    if allowed {
                        #expect(status != .forbidden, "\(role) \(route.method) \(route.path): \(status)")
                    } else {
                        #expect(status == .forbidden, "\(role) \(route.method) \(route.path): \(status)")
                    }
                }
            }
            // Another tenant's pages do not exist for them.
            let (cookie, _) = try await Self.session(client, "role-owner")
            try await client.execute(uri: "/t/other/devices", method: .get, headers: [.cookie: cookie]) {
                #expect($0.status == .notFound)
            }
        }
    }

    @Test func pagesCarryTheSecurityHeadersAndSignInRedirectsOnlyWithinTheSite() async throws {
        let fixture = try await APIFixture()
        try await Self.users(fixture)
        try await fixture.test { client in
            try await client.execute(uri: "/signin", method: .get) { response in
                let policy = try #require(response.headers[.contentSecurityPolicy])
                #expect(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"))
                #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                let cookie = try #require(response.headers[.setCookie])
                #expect(cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Strict"))
            }
            for (next, expected) in [
                ("%2Ft%2Fdefault%2Fdevices", "/t/default/devices"), ("https%3A%2F%2Fevil.example%2F", "/"),
                ("%2F%2Fevil.example", "/"), ("%2F%5Cevil.example", "/"),
            ] {
                let csrf = try await client.execute(uri: "/signin", method: .get) {
                    Self.cookies($0)["warden_csrf"] ?? ""
                }
                try await client.execute(
                    uri: "/signin", method: .post,
                    headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "warden_csrf=\(csrf)"],
                    body: ByteBuffer(
                        string: "_csrf=\(csrf)&next=\(next)&username=role-owner&password=a+long+enough+password")
                ) { #expect($0.headers[.location] == expected, "\(next)") }
            }
        }
    }

    /// A user per role in `default`, named `role-{role}`, and a tenant `other`.
    static func users(_ fixture: APIFixture) async throws {
        let admin = try #require(fixture.access.user(named: "admin")).principal
        _ = try await fixture.registry.createTenant(try TenantID("other"), hostName: nil)
        for role in Role.allCases {
            _ = try await fixture.access.createUser(
                username: "role-" + role.rawValue, password: SecretBytes(Array("a long enough password".utf8)),
                isPlatformAdmin: false, roles: [.defaultTenant: role], by: admin)
        }
    }
}
