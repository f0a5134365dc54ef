import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing

/// `warden serve` with no configuration: what it creates, how it listens, how it stops.
@Suite struct ServeDefaultsTests {
    @Test func firstStartCreatesTheDataDirectory() async throws {
        let server = try await RunningServer.start()
        let out = server.process.standardOutput
        #expect(out.contains(server.adminToken) && server.adminToken.hasPrefix("wdn_"))
        #expect(out.contains("warden device create my-device"))
        #expect(server.url.hasPrefix("https://localhost:"))
        func mode(_ file: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: server.dataDirectory + "/" + file)[.posixPermissions]
                as? Int) ?? -1
        }
        #expect(try mode("master.key") == 0o600)
        #expect(try mode("admin.token") == 0o600)
        #expect(try mode("tls/ca.key.sealed") == 0o600)
        #expect(try mode("tls/server.key.sealed") == 0o600)
        #expect(try mode(".") == 0o700)
        #expect(FileManager.default.fileExists(atPath: server.caPath))
        #expect(FileManager.default.fileExists(atPath: server.dataDirectory + "/warden.sqlite"))
        let tenants = try await server.request(.GET, "/api/v1/tenants")
        #expect(tenants.status == 200)
        #expect(String(decoding: tenants.body, as: UTF8.self).contains("\"tenantId\":\"default\""))
        #expect(await server.stop() == 0)
        #expect(!server.process.standardError.contains(server.adminToken))
    }

    @Test func healthReadinessAndMetrics() async throws {
        let server = try await RunningServer.start()
        #expect(try await server.request(.GET, "/healthz", authorization: "").status == 200)
        #expect(try await server.request(.GET, "/readyz", authorization: "").status == 200)
        #expect(try await server.request(.GET, "/metrics", authorization: "").status == 401)
        _ = try await server.request(.POST, "/api/v1/tenants/default/devices", body: #"{"deviceId":"m1"}"#)
        let metrics = String(decoding: try await server.request(.GET, "/metrics").body, as: UTF8.self)
        #expect(metrics.contains("warden_registry_devices 1"))
        #expect(metrics.contains("warden_api_requests_total"))
        #expect(metrics.contains(#"route="/api/v1/tenants/{tenant}/devices""#))
        #expect(await server.stop() == 0)
    }

    @Test func refusesTLSBelowOnePointTwo() async throws {
        let server = try await RunningServer.start()
        let old = try server.makeClient(maximumTLSVersion: .tlsv11)
        await #expect(throws: (any Error).self) {
            _ = try await old.execute(HTTPClientRequest(url: server.url + "/healthz"), timeout: .seconds(10))
        }
        try await old.shutdown()
        let current = try server.makeClient(maximumTLSVersion: .tlsv12)
        let response = try await current.execute(HTTPClientRequest(url: server.url + "/healthz"), timeout: .seconds(10))
        #expect(response.status.code == 200)
        try await current.shutdown()
        #expect(await server.stop() == 0)
    }

    @Test func jsonLogsCarryNoSecrets() async throws {
        let server = try await RunningServer.start(arguments: ["--log-format", "json", "--log-level", "debug"])
        let created = try await server.request(.POST, "/api/v1/tenants/default/devices", body: #"{"deviceId":"j1"}"#)
        let key = try #require(
            ((created.json?["authentication"] as? [String: Any])?["symmetricKey"] as? [String: String])?["primaryKey"])
        _ = try await server.request(.GET, "/api/v1/tenants/default/devices/j1/connection-string")
        _ = try await server.request(.GET, "/api/v1/tenants/default/devices", authorization: "Bearer wdn_wrong")
        #expect(await server.stop() == 0)
        let lines = server.process.standardError.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "\(line)")
        }
        for secret in [server.adminToken, key, "wdn_wrong"] {
            #expect(!server.process.standardError.contains(secret))
        }
    }
}
