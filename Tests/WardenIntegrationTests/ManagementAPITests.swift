import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The management API over real HTTPS: every bad request gets an RFC 9457 problem.
@Suite struct ManagementAPITests {
    @Test func badRequestsGetProblems() async throws {
        let server = try await RunningServer.start()
        let devices = "/api/v1/tenants/default/devices"
        let cases: [(String, String, Int, String)] = [
            ("{not json", devices, 400, "request.malformed_json"),
            ("{}", devices, 400, "request.invalid_field"),
            (#"{"deviceId": true}"#, devices, 400, "request.invalid_field"),
            (#"{"deviceId": "has space"}"#, devices, 400, "device.invalid_id"),
            (
                #"{"deviceId": "x", "attributes": {"a": "\#(String(repeating: "z", count: 80_000))"}}"#, devices, 413,
                "request.body_too_large"
            ),
        ]
        for (body, path, status, code) in cases {
            let reply = try await server.request(.POST, path, body: body)
            #expect(reply.status == status, "\(code)")
            #expect(reply.code == code)
            #expect(reply.headers["Content-Type"].first == "application/problem+json")
            #expect((reply.json?["referenceId"] as? String)?.isEmpty == false)
        }
        #expect(try await server.request(.GET, "/api/v1/unknown").code == "route.not_found")
        #expect(try await server.request(.GET, devices, authorization: "").code == "auth.missing_credential")
        #expect(try await server.request(.GET, devices, authorization: "Bearer nope").code == "auth.invalid_credential")
        #expect(try await server.request(.GET, devices + "/ghost").code == "device.not_found")
        #expect(await server.stop() == 0)
    }

    @Test func registryRoundTrip() async throws {
        let server = try await RunningServer.start()
        #expect(try await server.request(.POST, "/api/v1/tenants", body: #"{"tenantId":"acme"}"#).status == 201)
        let base = "/api/v1/tenants/acme"
        for id in ["a", "b", "c"] {
            #expect(try await server.request(.POST, base + "/devices", body: #"{"deviceId":"\#(id)"}"#).status == 201)
        }
        let page = try await server.request(.GET, base + "/devices?limit=2")
        #expect((page.json?["items"] as? [Any])?.count == 2)
        let cursor = try #require(page.json?["nextCursor"] as? String)
        let rest = try await server.request(.GET, base + "/devices?limit=2&cursor=\(cursor)")
        #expect((rest.json?["items"] as? [[String: Any]])?.map { $0["deviceId"] as? String } == ["c"])
        #expect(rest.json?["nextCursor"] == nil)

        #expect(
            try await server.request(.POST, base + "/groups", body: #"{"name":"fleet","members":["a"]}"#).status == 201)
        #expect(try await server.request(.PUT, base + "/groups/fleet/members/b").status == 200)
        let group = try await server.request(.GET, base + "/groups/fleet")
        #expect(group.json?["members"] as? [String] == ["a", "b"])
        let list = try await server.request(.PUT, base + "/access-list", body: #"{"block":{"devices":["c"]}}"#)
        #expect((list.json?["block"] as? [String: [String]])?["devices"] == ["c"])
        let filter = try await server.request(
            .PUT, base + "/ip-filter",
            body:
                #"{"defaultAction":"reject","rules":[{"name":"lan","action":"accept","cidr":"10.0.0.0/8"},{"name":"v6","action":"accept","cidr":"2001:db8::/32"}]}"#
        )
        #expect(filter.status == 200)
        let etag = try #require(filter.headers["ETag"].first)
        let stale = try await server.request(
            .PUT, base + "/ip-filter", body: #"{"defaultAction":"accept","rules":[]}"#,
            headers: [("If-Match", "\"old\"")])
        #expect(stale.code == "ip_filter.etag_mismatch")
        #expect(
            try await server.request(
                .PUT, base + "/ip-filter", body: #"{"defaultAction":"accept","rules":[]}"#,
                headers: [("If-Match", etag)]
            ).status == 200)
        let bad = try await server.request(
            .PUT, base + "/ip-filter",
            body: #"{"defaultAction":"accept","rules":[{"name":"x","action":"accept","cidr":"10.0.0.1/8"}]}"#)
        #expect(bad.code == "cidr.invalid")
        let policy = try await server.request(
            .POST, base + "/shared-access-policies", body: #"{"name":"gateway","permissions":["deviceConnect"]}"#)
        #expect((policy.json?["keys"] as? [String: String])?["primaryKey"] != nil)
        let policies = try await server.request(.GET, base + "/shared-access-policies")
        #expect(((policies.json?["items"] as? [[String: Any]])?.first)?["keys"] == nil)
        #expect(try await server.request(.DELETE, "/api/v1/tenants/acme").code == "tenant.not_empty")
        #expect(await server.stop() == 0)
    }
}
