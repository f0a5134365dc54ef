import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import WardenAPI

/// The people, key and audit routes answer bad input with a problem (or, at `/oauth/token`, an RFC 6749
/// error) naming it, and create nothing.
struct AccessRequestValidationTests {
    private func expect(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, body: String? = nil,
        headers: HTTPFields = .admin, status: Int, code: String
    ) async throws {
        try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        { response in
            #expect(response.status.code == status, "\(method) \(uri) \(body ?? "")")
            let answered = response.problem?.code ?? (response.json?["error"] as? String)
            #expect(answered == code, "\(String(buffer: response.body))")
        }
    }

    private func count(_ client: any TestClientProtocol, _ uri: String) async throws -> Int {
        try await client.execute(uri: uri, method: .get, headers: .admin) { response in
            (response.json?["items"] as? [Any])?.count ?? -1
        }
    }

    @Test func badSignInsAreProblems() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            let json: HTTPFields = [.contentType: "application/json"]
            for (body, status, code) in [
                ("not json", 400, "request.malformed_json"), ("[]", 400, "request.malformed_json"),
                (#"{"username": "admin"}"#, 400, "request.invalid_field"),
                (#"{"username": "admin", "password": "x", "extra": 1}"#, 400, "request.invalid_field"),
                (#"{"username": 7, "password": "x"}"#, 400, "request.invalid_field"),
                (#"{"username": "admin", "password": "not the password"}"#, 401, "auth.sign_in_failed"),
                (#"{"username": "\u202e", "password": "x"}"#, 401, "auth.sign_in_failed"),
                // U+0000 is in no field Warden keeps (PostgreSQL's text refuses it): refused before anything else.
                (#"{"username": "\u0000\u202e", "password": "x"}"#, 400, "request.invalid_field"),
            ] {
                try await expect(
                    client, .post, "/api/v1/auth/signin", body: body, headers: json, status: status, code: code)
            }
            try await expect(
                client, .post, "/api/v1/auth/signout", body: "{}", headers: json, status: 400,
                code: "request.invalid_field")
            let long = String(repeating: "x", count: 10_000)
            try await expect(
                client, .post, "/api/v1/auth/signin", body: #"{"username": "\#(long)", "password": "x"}"#,
                headers: json, status: 401, code: "auth.sign_in_failed")
            // Every attempt is an audit record, the claimed name cut to 128. A refusal's record is not waited
            // for (the store may be why it was refused), so the last ones may still be on their way.
            var actors: [String] = []
            for _ in 0..<200 {
                actors = try await client.execute(
                    uri: "/api/v1/audit?action=signIn", method: .get, headers: .admin
                ) { ($0.json?["items"] as? [[String: Any]])?.compactMap { $0["actor"] as? String } ?? [] }
                if actors.count >= 9 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(actors.count == 9 && actors.allSatisfy { $0.count <= 128 }, "\(actors.map(\.count))")
        }
    }

    @Test func badTokenRequestsGetRFC6749Errors() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            let json: HTTPFields = [.contentType: "application/json"]
            for (body, headers, status, code) in [
                ("grant_type=client_credentials", json, 400, "invalid_request"),
                ("", form, 400, "invalid_request"),
                ("grant_type=password&username=a&password=b", form, 400, "unsupported_grant_type"),
                ("grant_type=refresh_token", form, 400, "invalid_request"),
                ("grant_type=refresh_token&refresh_token=wrt_forged", form, 400, "invalid_grant"),
                ("grant_type=client_credentials&grant_type=refresh_token", form, 400, "invalid_request"),
                ("grant_type=client_credentials", form, 401, "invalid_client"),
                ("grant_type=client_credentials&client_id=sp_x&client_secret=y", form, 401, "invalid_client"),
            ] {
                try await expect(
                    client, .post, "/oauth/token", body: body, headers: headers, status: status, code: code)
            }
            var basic = form
            basic[.authorization] = "Basic %%%"
            try await expect(
                client, .post, "/oauth/token", body: "grant_type=client_credentials", headers: basic, status: 401,
                code: "invalid_client")
        }
    }

    @Test func badUsersRolesAndServicePrincipalsCreateNothing() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            let users = try await count(client, "/api/v1/users")
            for (body, code) in [
                (
                    #"{"username": "has space", "password": "a long enough password", "roles": {"default": "monitor"}}"#,
                    "user.invalid_name"
                ),
                (#"{"username": "ada", "password": "short", "roles": {"default": "monitor"}}"#, "user.weak_password"),
                (#"{"username": "ada", "roles": {"default": "superuser"}}"#, "request.invalid_field"),
                (#"{"username": "ada", "roles": {"NOT A TENANT": "monitor"}}"#, "tenant.invalid_id"),
                (#"{"username": "ada"}"#, "request.invalid_field"),
                (#"{"username": "ada", "roles": {"default": "monitor"}, "isRoot": true}"#, "request.invalid_field"),
            ] {
                try await expect(client, .post, "/api/v1/users", body: body, status: 400, code: code)
            }
            try await expect(
                client, .post, "/api/v1/users", body: #"{"username": "ada", "roles": {"nowhere": "monitor"}}"#,
                status: 404, code: "tenant.not_found")
            try await expect(
                client, .post, "/api/v1/users", body: #"{"username": "admin", "roles": {"default": "monitor"}}"#,
                status: 409, code: "user.already_exists")
            #expect(try await count(client, "/api/v1/users") == users)
            try await expect(
                client, .patch, "/api/v1/users/admin", body: #"{"enabled": "no"}"#, status: 400,
                code: "request.invalid_field")
            try await expect(
                client, .patch, "/api/v1/users/admin", body: #"{"enabled": false}"#, status: 409,
                code: "user.last_platform_admin")
            try await expect(
                client, .put, "/api/v1/tenants/default/roles/nobody", body: #"{"role": "monitor"}"#, status: 404,
                code: "user.not_found")
            try await expect(
                client, .put, "/api/v1/tenants/default/roles/admin", body: #"{"role": "king"}"#, status: 400,
                code: "request.invalid_field")
            try await expect(
                client, .post, "/api/v1/service-principals", body: #"{"name": "", "roles": {"default": "monitor"}}"#,
                status: 400, code: "request.invalid_field")
            try await expect(
                client, .post, "/api/v1/service-principals", body: #"{"name": "billing", "roles": {}}"#, status: 400,
                code: "request.invalid_field")
            #expect(try await count(client, "/api/v1/service-principals") == 0)
        }
    }

    @Test func badAPIKeysAndAuditQueriesAreRefused() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            let keys = "/api/v1/tenants/default/api-keys"
            for (body, code) in [
                (#"{"name": "k", "permissions": ["devices.fly"]}"#, "request.invalid_field"),
                (#"{"name": "k", "permissions": []}"#, "api_key.invalid_scope"),
                (#"{"name": "k", "permissions": ["metrics.read"]}"#, "api_key.invalid_scope"),
                (#"{"name": "k", "permissions": ["account.self"]}"#, "api_key.invalid_scope"),
                (
                    #"{"name": "k", "permissions": ["registry.read"], "deviceGroup": "no-such-group"}"#,
                    "api_key.invalid_scope"
                ),
                (#"{"name": "k", "permissions": ["registry.read"], "expiresAt": "tomorrow"}"#, "request.invalid_field"),
                // Year 10000 once stored a date the store could not read back: every start then trapped.
                (
                    #"{"name": "k", "permissions": ["registry.read"], "expiresAt": "10000-01-01T00:00:00Z"}"#,
                    "request.invalid_field"
                ),
                (
                    #"{"name": "k", "permissions": ["registry.read"], "expiresAt": "2999-01-01T00:00:00Z"}"#,
                    "request.invalid_field"
                ),
                (
                    #"{"name": "k", "permissions": ["registry.read"], "expiresAt": "2001-01-01T00:00:00Z"}"#,
                    "request.invalid_field"
                ),
                (#"{"name": "", "permissions": ["registry.read"]}"#, "request.invalid_field"),
            ] {
                try await expect(client, .post, keys, body: body, status: 400, code: code)
            }
            #expect(try await count(client, keys) == 0)
            try await expect(client, .delete, keys + "/key_unknown", status: 404, code: "api_key.not_found")
            for query in ["outcome=maybe", "from=yesterday", "from=1e300", "to=inf", "limit=0", "cursor=%%%"] {
                try await expect(
                    client, .get, "/api/v1/tenants/default/audit?" + query, status: 400,
                    code: query.hasPrefix("cursor") ? "request.invalid_cursor" : "request.invalid_query")
            }
        }
    }
}
