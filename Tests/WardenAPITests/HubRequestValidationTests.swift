import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import WardenAPI

/// The hub's routes answer bad input with a problem naming it, and change nothing.
struct HubRequestValidationTests {
    static let device = "/api/v1/tenants/default/devices/hv-1"

    /// Runs `body` with a client once device `hv-1` exists.
    private func withDevice(_ body: @Sendable @escaping (any TestClientProtocol) async throws -> Void) async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            try await client.execute(
                uri: "/api/v1/tenants/default/devices", method: .post, headers: .admin,
                body: ByteBuffer(string: #"{"deviceId": "hv-1"}"#)
            ) { response in #expect(response.status.code == 201) }
            try await body(client)
        }
    }

    private func expectProblem(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, body: String? = nil,
        headers: HTTPFields = .admin, status: Int, code: String
    ) async throws {
        try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        { response in
            #expect(response.status.code == status, "\(method) \(uri)")
            #expect(response.problem?.code == code, "\(String(buffer: response.body))")
        }
    }

    @Test func badCloudToDeviceSendsAreRefusedAndQueueNothing() async throws {
        try await withDevice { client in
            let c2d = Self.device + "/c2d"
            for (body, code) in [
                (#"{"body": "x", "bodyEncoding": "utf-16"}"#, "request.invalid_field"),
                (#"{"body": "%%%", "bodyEncoding": "base64"}"#, "request.invalid_field"),
                (#"{"body": "x", "properties": {"$.mid": "spoof"}}"#, "request.invalid_field"),
                (#"{"body": "x", "properties": {"iothub-ack": "full"}}"#, "request.invalid_field"),
                (#"{"body": "x", "messageId": ""}"#, "request.invalid_field"),
                (#"{"body": "x", "ttlSeconds": 0}"#, "c2d.invalid_ttl"),
                (#"{"body": "x", "ack": "sometimes"}"#, "request.invalid_field"),
            ] {
                try await expectProblem(client, .post, c2d, body: body, status: 400, code: code)
            }
            try await client.execute(uri: c2d, method: .get, headers: .admin) { response in
                #expect(response.json?["items"] as? [Any] != nil)
                #expect((response.json?["items"] as? [Any])?.isEmpty == true)
            }
        }
    }

    @Test func badTwinPatchesAreRefusedAndTheTwinStaysAsItWas() async throws {
        try await withDevice { client in
            let desired = Self.device + "/twin/desired"
            try await expectProblem(client, .patch, desired, body: "[1, 2]", status: 400, code: "twin.invalid_patch")
            try await expectProblem(client, .patch, desired, body: "{", status: 400, code: "twin.invalid_patch")
            try await expectProblem(
                client, .patch, desired, body: #"{"$version": 9}"#, status: 400, code: "twin.invalid_patch")
            // IoT Hub's rules: names at every level, string values, depth; structure is checked before parsing.
            let nested = { (levels: Int) in
                String(repeating: #"{"a":"#, count: levels) + "1" + String(repeating: "}", count: levels)
            }
            for (body, code) in [
                (#"{"a.b": 1}"#, "twin.invalid_patch"), (#"{"a": {"$x": 1}}"#, "twin.invalid_patch"),
                (#"{"a b": 1}"#, "twin.invalid_patch"), (#"{"a": {"\u0001": 1}}"#, "twin.invalid_patch"),
                (#"{"a": ""# + String(repeating: "x", count: 4097) + #""}"#, "twin.invalid_patch"),
                ("{" + String(repeating: "x", count: 1025).debugDescription + ": 1}", "twin.invalid_patch"),
                (nested(12), "json.too_complex"), (String(repeating: "[", count: 60_000), "json.too_complex"),
                (#"{"a": ["# + Array(repeating: "0", count: 2001).joined(separator: ",") + "]}", "json.too_complex"),
            ] {
                try await expectProblem(client, .patch, desired, body: body, status: 400, code: code)
            }
            var stale = HTTPFields.admin
            stale[.ifMatch] = "\"7\""
            try await expectProblem(
                client, .patch, desired, body: #"{"a": 1}"#, headers: stale, status: 412, code: "twin.version_mismatch")
            try await client.execute(uri: Self.device + "/twin", method: .get, headers: .admin) { response in
                #expect(response.headers[.eTag] == "\"0\"")
            }
            // Ten levels of properties below the section are IoT Hub's depth, and allowed.
            try await client.execute(
                uri: desired, method: .patch, headers: .admin, body: ByteBuffer(string: nested(11))
            ) { response in #expect(response.status.code == 200) }
        }
    }

    @Test func bodiesNestedTooDeepAreRefusedBeforeParsing() async throws {
        try await withDevice { client in
            let deep = #"{"deviceId": "# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}"
            try await expectProblem(
                client, .post, "/api/v1/tenants/default/devices", body: deep, status: 400, code: "json.too_complex")
            try await expectProblem(
                client, .post, Self.device + "/methods/reboot",
                body: #"{"payload": "# + String(repeating: "[", count: 50_000) + "}", status: 400,
                code: "json.too_complex")
        }
    }

    @Test func methodsRefuseBadNamesTimeoutsAndOfflineDevices() async throws {
        try await withDevice { client in
            let methods = Self.device + "/methods/"
            try await expectProblem(
                client, .post, methods + "a%2Fb", body: "{}", status: 400, code: "method.invalid_name")
            try await expectProblem(
                client, .post, methods + "reboot", body: #"{"responseTimeoutInSeconds": 1}"#, status: 400,
                code: "request.invalid_field")
            try await expectProblem(
                client, .post, methods + "reboot", body: "{}", status: 404, code: "method.device_offline")
        }
    }

    @Test func telemetryQueriesNameWhatIsWrong() async throws {
        try await withDevice { client in
            let telemetry = Self.device + "/telemetry"
            // Ages beyond any clock once trapped converting to milliseconds.
            for query in [
                "from=yesterday", "from=1e300", "from=inf", "to=-inf", "from=nan", "to=1e300d", "from=200000y",
            ] {
                try await expectProblem(
                    client, .get, telemetry + "?" + query, status: 400, code: "request.invalid_query")
                try await expectProblem(
                    client, .get, telemetry + "/export?" + query, status: 400, code: "request.invalid_query")
            }
            try await expectProblem(
                client, .get, telemetry + "?cursor=bm9wZQ", status: 400, code: "request.invalid_cursor")
            try await expectProblem(
                client, .get, telemetry + "/export?format=xml", status: 400, code: "request.invalid_query")
            try await expectProblem(
                client, .get, "/api/v1/tenants/default/devices/ghost/telemetry", status: 404, code: "device.not_found")
        }
    }

    @Test func deviceRequestsWithoutAValidCredentialAre401() async throws {
        try await withDevice { client in
            try await expectProblem(
                client, .get, "/devices/hv-1/messages/deviceBound", headers: [:], status: 401,
                code: "auth.invalid_credential")
            try await expectProblem(
                client, .get, "/devices/hv-1/messages/deviceBound",
                headers: [.authorization: "SharedAccessSignature sr=garbage"], status: 401,
                code: "auth.invalid_credential")
        }
    }
}
