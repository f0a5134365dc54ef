import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import WardenAPI

/// `/api/v1/tenants/{tenant}/policies`: write, read, version, roll back and simulate; bad input is refused with a
/// problem that names it and changes nothing.
struct PolicyAPITests {
    static let base = "/api/v1/tenants/default/policies"
    static let floors = """
        {"statements": [
          {"id": "floor-share", "effect": "allow", "principals": {"attributes": {"role": "sensor"}},
           "actions": ["publish"], "resources": ["floors/${device.attr.floor}/#"]}
        ]}
        """

    private func withSensor(_ body: @Sendable @escaping (any TestClientProtocol) async throws -> Void) async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            try await client.execute(
                uri: "/api/v1/tenants/default/devices", method: .post, headers: .admin,
                body: ByteBuffer(string: #"{"deviceId": "s-1", "attributes": {"role": "sensor", "floor": "3"}}"#)
            ) { response in #expect(response.status.code == 201) }
            try await body(client)
        }
    }

    private func simulate(_ client: any TestClientProtocol, _ body: String) async throws -> [String: Any]? {
        try await client.execute(
            uri: Self.base + "/simulate", method: .post, headers: .admin, body: ByteBuffer(string: body)
        ) { response in
            #expect(response.status.code == 200, "\(String(buffer: response.body))")
            return response.json
        }
    }

    @Test func writeSimulateAndRollBack() async throws {
        try await withSensor { client in
            let question = #"{"device": "s-1", "action": "publish", "topic": "floors/3/temp"}"#
            let before = try await simulate(client, question)
            #expect(before?["decision"] as? String == "deny")
            #expect(before?["statement"] is NSNull)
            #expect((before?["reasons"] as? [String])?.first == "no statement allows publish on 'floors/3/temp'")
            try await client.execute(
                uri: Self.base + "/document", method: .put, headers: .admin, body: ByteBuffer(string: Self.floors)
            ) { response in
                #expect(response.status.code == 201)
                #expect(response.headers[.eTag] == "\"1\"")
                #expect(response.json?["author"] as? String == "user:admin")
            }
            try await client.execute(
                uri: Self.base + "/document", method: .put, headers: .admin, body: ByteBuffer(string: Self.floors)
            ) { response in #expect(response.status.code == 200) }
            let after = try await simulate(client, question)
            #expect(after?["decision"] as? String == "allow")
            #expect(after?["statement"] as? String == "floor-share")
            #expect(after?["policyVersion"] as? Int == 1)
            #expect(
                (after?["requestor"] as? [String: Any])?["attributes"] as? [String: String] == [
                    "role": "sensor", "floor": "3",
                ])
            try await client.execute(uri: Self.base + "/document", method: .get, headers: .admin) { response in
                #expect(String(buffer: response.body) == Self.floors)
            }
            try await client.execute(
                uri: Self.base + "/document", method: .put, headers: .admin, body: ByteBuffer(string: "{}")
            ) { response in #expect(response.status.code == 201) }
            #expect(try await simulate(client, question)?["decision"] as? String == "deny")
            try await client.execute(
                uri: Self.base + "/rollback", method: .post, headers: .admin,
                body: ByteBuffer(string: #"{"version": 1}"#)
            ) { response in
                #expect(response.status.code == 201)
                #expect(response.json?["version"] as? Int == 3)
                #expect(response.json?["restoredFrom"] as? Int == 1)
            }
            #expect(try await simulate(client, question)?["statement"] as? String == "floor-share")
            try await client.execute(uri: Self.base + "/versions", method: .get, headers: .admin) { response in
                let items = response.json?["items"] as? [[String: Any]]
                #expect(items?.compactMap { $0["version"] as? Int } == [3, 2, 1])
                #expect(items?.allSatisfy { $0["document"] == nil } == true)
            }
            try await client.execute(uri: Self.base + "/versions/1", method: .get, headers: .admin) { response in
                #expect(response.json?["document"] as? String == Self.floors)
            }
            try await client.execute(uri: Self.base, method: .get, headers: .admin) { response in
                #expect(response.json?["version"] as? Int == 3)
                let statements = response.json?["statements"] as? [[String: Any]]
                #expect(statements?.last?["id"] as? String == "floor-share")
                #expect(statements?.first?["source"] as? String == "default")
            }
        }
    }

    /// The connection's figures a simulation may be given, and a hub action a topic stands for.
    @Test func simulationsTakeTheConnectionsFigures() async throws {
        try await withSensor { client in
            let document = #"""
                {"statements": [
                  {"id": "small", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["publish"],
                   "resources": ["t/#"], "conditions": {"payload-size": {"at-most": 10}, "tls-versions": ["1.3"],
                   "message-rate": {"at-most": 5}, "connection-age": {"at-least": "1m"}}},
                  {"id": "frozen", "effect": "deny", "principals": {"devices": ["s-1"]},
                   "actions": ["twin.update-reported"]}]}
                """#
            try await client.execute(
                uri: Self.base + "/document", method: .put, headers: .admin, body: ByteBuffer(string: document)
            ) { response in #expect(response.status.code == 201) }
            let fits = try await simulate(
                client,
                #"{"device": "s-1", "action": "publish", "topic": "t/x", "context": {"payloadSize": 10,"#
                    + #" "tlsVersion": "1.3", "messageRate": 2.5, "connectionAge": "2m"}}"#)
            #expect(fits?["decision"] as? String == "allow")
            let unknown = try await simulate(client, #"{"device": "s-1", "action": "publish", "topic": "t/x"}"#)
            #expect(unknown?["decision"] as? String == "deny")
            let patch = try await simulate(
                client,
                #"{"device": "s-1", "action": "publish", "topic": "$iothub/twin/PATCH/properties/reported/?$rid=1"}"#)
            #expect(patch?["decision"] as? String == "deny")
            #expect(patch?["action"] as? String == "twin.update-reported")
            #expect(patch?["statement"] as? String == "frozen")
        }
    }

    @Test func badInputIsRefusedAndChangesNothing() async throws {
        try await withSensor { client in
            for (method, path, body, status, code) in [
                (
                    HTTPRequest.Method.put, "/document", #"{"statements": [{"id": "x"}]}"#, 400,
                    "policy_document.invalid"
                ),
                (.put, "/document", #"{"statements": "all"}"#, 400, "policy_document.invalid"),
                (.put, "/document", "[", 400, "policy_document.invalid"),
                (
                    .put, "/document", String(repeating: "[", count: 100) + String(repeating: "]", count: 100), 400,
                    "policy_document.invalid"
                ),
                (
                    .put, "/document", "{" + String(repeating: " ", count: 4 * 1024 * 1024) + "}", 413,
                    "request.body_too_large"
                ),
                (.post, "/rollback", #"{"version": 4}"#, 404, "policy_version.not_found"),
                (.post, "/rollback", #"{"version": "one"}"#, 400, "request.invalid_field"),
                (.get, "/versions/0", nil, 404, "policy_version.not_found"),
                (.get, "/versions/abc", nil, 404, "policy_version.not_found"),
                (.get, "/versions/99999999999999999999999", nil, 404, "policy_version.not_found"),
                (.get, "/document", nil, 404, "policy_version.not_found"),
                (.post, "/simulate", #"{"device": "s-1", "action": "fly"}"#, 400, "request.invalid_field"),
                (.post, "/simulate", #"{"action": "connect"}"#, 400, "request.invalid_field"),
                (
                    .post, "/simulate", #"{"device": "s-1", "service": "svc", "action": "connect"}"#, 400,
                    "request.invalid_field"
                ),
                (
                    .post, "/simulate", #"{"device": "s-1", "action": "connect", "topic": "a"}"#, 400,
                    "request.invalid_field"
                ),
                (.post, "/simulate", #"{"device": "s-1", "action": "publish"}"#, 400, "request.invalid_field"),
                (
                    .post, "/simulate", #"{"device": "s-1", "action": "publish", "topic": "a/#"}"#, 400,
                    "request.invalid_field"
                ),
                (
                    .post, "/simulate", #"{"device": "s-1", "action": "subscribe", "topic": "a/#/b"}"#, 400,
                    "request.invalid_field"
                ),
                (.post, "/simulate", #"{"device": "ghost", "action": "connect"}"#, 404, "device.not_found"),
                (
                    .post, "/simulate", #"{"device": "s-1", "action": "connect", "context": {"tlsVersion": "1.0"}}"#,
                    400, "request.invalid_field"
                ),
                (
                    .post, "/simulate",
                    #"{"device": "s-1", "action": "connect", "context": {"payloadSize": -1}}"#, 400,
                    "request.invalid_field"
                ),
                (
                    .post, "/simulate",
                    #"{"device": "s-1", "action": "connect", "context": {"payloadSize": 1e300}}"#, 400,
                    "request.invalid_field"
                ),
                (
                    .post, "/simulate",
                    #"{"device": "s-1", "action": "connect", "context": {"messageRate": -2}}"#, 400,
                    "request.invalid_field"
                ),
                (
                    .post, "/simulate",
                    #"{"device": "s-1", "action": "connect", "context": {"connectionAge": "soon"}}"#, 400,
                    "request.invalid_field"
                ),
                (
                    .post, "/simulate", #"{"service": "nobody", "action": "connect"}"#, 404,
                    "shared_access_policy.not_found"
                ),
                (
                    .post, "/simulate",
                    #"{"device": "s-1", "action": "connect", "context": {"sourceAddress": "10.0.0.0/8"}}"#, 400,
                    "request.invalid_field"
                ),
                (
                    .post, "/simulate", #"{"device": "s-1", "action": "connect", "context": {"protocol": "coap"}}"#,
                    400, "request.invalid_field"
                ),
            ] {
                try await client.execute(
                    uri: Self.base + path, method: method, headers: .admin, body: body.map { ByteBuffer(string: $0) }
                ) { response in
                    #expect(response.status.code == status, "\(method) \(path) \(body?.prefix(80) ?? "")")
                    #expect(response.problem?.code == code, "\(String(buffer: response.body).prefix(300))")
                }
            }
            try await client.execute(uri: Self.base + "/versions", method: .get, headers: .admin) { response in
                #expect((response.json?["items"] as? [Any])?.isEmpty == true)
            }
        }
    }

    @Test func aStaleIfMatchIsRefused() async throws {
        try await withSensor { client in
            var stale = HTTPFields.admin
            stale[.ifMatch] = "\"3\""
            try await client.execute(
                uri: Self.base + "/document", method: .put, headers: stale, body: ByteBuffer(string: Self.floors)
            ) { response in
                #expect(response.status.code == 412)
                #expect(response.problem?.code == "policy_version.mismatch")
            }
            stale[.ifMatch] = "\"0\""
            try await client.execute(
                uri: Self.base + "/document", method: .put, headers: stale, body: ByteBuffer(string: Self.floors)
            ) { response in #expect(response.status.code == 201) }
        }
    }
}
