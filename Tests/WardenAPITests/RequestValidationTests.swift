import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import WardenAPI

/// Every bad request gets a problem body with a stable code and a detail that names what is wrong.
struct RequestValidationTests {
    static let devices = "/api/v1/tenants/default/devices"

    @Test(arguments: [
        ("{", "request.malformed_json", "not valid JSON"),
        ("[1]", "request.malformed_json", "JSON object"),
        ("{}", "request.invalid_field", "'deviceId' is required"),
        (#"{"deviceId": 5}"#, "request.invalid_field", "'deviceId' must be a string"),
        (#"{"deviceId": "a", "colour": "red"}"#, "request.invalid_field", "Unknown field 'colour'"),
        (#"{"deviceId": "a b"}"#, "device.invalid_id", "U+20 at position 2"),
        (#"{"deviceId": "a", "authentication": "password"}"#, "request.invalid_field", "authentication"),
        (
            #"{"deviceId": "a", "authentication": "x509-thumbprint", "primaryThumbprint": "zz"}"#, "thumbprint.invalid",
            "hex"
        ),
        // U+0000 anywhere (PostgreSQL's text refuses it), however its escape is spelled; a backslash escaped
        // before "u0000" is no U+0000.
        (#"{"deviceId": "a", "attributes": {"k": "x\u0000"}}"#, "request.invalid_field", "U+0000"),
        (#"{"deviceId": "a\\\u0000"}"#, "request.invalid_field", "U+0000"),
        (#"{"deviceId": "a b", "attributes": {"k": "\\u0000"}}"#, "device.invalid_id", "U+20 at position 2"),
    ])
    func badDeviceBodies(_ body: String, _ code: String, _ detail: String) async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            try await client.execute(uri: Self.devices, method: .post, headers: .admin, body: ByteBuffer(string: body))
            { response in
                #expect(response.status.code == 400)
                #expect(response.headers[.contentType] == "application/problem+json")
                let problem = try #require(response.problem)
                #expect(problem.code == code)
                #expect(problem.detail.contains(detail), "\(problem.detail)")
            }
        }
    }

    @Test func oversizeBodyIs413() async throws {
        let fixture = try await APIFixture()
        let body = #"{"deviceId": "a", "attributes": {"x": ""# + String(repeating: "y", count: 70_000) + #""}}"#
        try await fixture.test { client in
            try await client.execute(uri: Self.devices, method: .post, headers: .admin, body: ByteBuffer(string: body))
            { response in
                #expect(response.status.code == 413)
                #expect(response.problem?.code == "request.body_too_large")
            }
        }
    }

    /// A route with a smaller limit than the server's names its own: a DPS register body is at most 16 KiB.
    @Test func anOversizeBodyIsToldTheRoutesLimit() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            try await client.execute(
                uri: "/0neABCDEF12/registrations/r1/register", method: .put,
                body: ByteBuffer(string: String(repeating: "a", count: 20_000))
            ) { response in
                #expect(response.status.code == 413)
                #expect(response.problem?.code == "request.body_too_large")
                #expect(response.problem?.detail.contains("16384 bytes") == true)
            }
        }
    }

    @Test func credentialsAreChecked() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            try await client.execute(uri: Self.devices, method: .get) { response in
                #expect(response.status.code == 401)
                #expect(response.problem?.code == "auth.missing_credential")
                #expect(response.headers[.wwwAuthenticate] != nil)
            }
            try await client.execute(uri: Self.devices, method: .get, headers: [.authorization: "Bearer wdn_wrong"]) {
                response in
                #expect(response.problem?.code == "auth.invalid_credential")
            }
            try await client.execute(uri: Self.devices, method: .get, headers: [.authorization: "Basic abc"]) {
                response in
                #expect(response.problem?.code == "auth.invalid_credential")
            }
        }
    }

    @Test func unknownRoutesAndTenants() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            try await client.execute(uri: "/api/v1/nothing", method: .get, headers: .admin) { response in
                #expect(response.status.code == 404)
                #expect(response.problem?.code == "route.not_found")
            }
            try await client.execute(uri: "/api/v1/tenants/ghost/devices", method: .get, headers: .admin) { response in
                #expect(response.problem?.code == "tenant.not_found")
            }
            try await client.execute(uri: Self.devices + "?limit=0", method: .get, headers: .admin) { response in
                #expect(response.problem?.code == "request.invalid_query")
            }
            try await client.execute(uri: Self.devices + "?cursor=%%%", method: .get, headers: .admin) { response in
                #expect(response.problem?.code == "request.invalid_cursor")
            }
        }
    }

    @Test func ifMatchGuardsUpdates() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            var etag = ""
            try await client.execute(
                uri: Self.devices, method: .post, headers: .admin, body: ByteBuffer(string: #"{"deviceId": "d#1"}"#)
            ) { response in
                #expect(response.status == .created)
                etag = try #require(response.headers[.eTag])
                let keys = (response.json?["authentication"] as? [String: Any])?["symmetricKey"] as? [String: String]
                #expect(keys?["primaryKey"]?.count == 44)
            }
            var headers = HTTPFields.admin
            headers[.ifMatch] = etag
            let path = Self.devices + "/d%231"
            try await client.execute(
                uri: path, method: .patch, headers: headers, body: ByteBuffer(string: #"{"status": "disabled"}"#)
            ) {
                response in
                #expect(response.status == .ok)
                #expect(response.json?["status"] as? String == "disabled")
                #expect((response.json?["authentication"] as? [String: Any])?["symmetricKey"] == nil)
            }
            try await client.execute(
                uri: path, method: .patch, headers: headers, body: ByteBuffer(string: #"{"status": "enabled"}"#)
            ) {
                response in
                #expect(response.status.code == 412)
                #expect(response.problem?.code == "device.etag_mismatch")
            }
        }
    }
}
