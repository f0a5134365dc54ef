import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Everything survives a restart, and the database never holds a device key in plaintext.
@Suite struct RestartTests {
    @Test func everythingSurvivesARestart() async throws {
        let first = try await RunningServer.start()
        let token = first.adminToken
        _ = try await first.request(.POST, "/api/v1/tenants", body: #"{"tenantId":"acme"}"#)
        _ = try await first.request(
            .POST, "/api/v1/tenants/acme/devices", body: #"{"deviceId":"d1","attributes":{"site":"north"}}"#)
        let keys = try await first.request(.GET, "/api/v1/tenants/acme/devices/d1/keys").body
        _ = try await first.request(.POST, "/api/v1/tenants/acme/groups", body: #"{"name":"g","members":["d1"]}"#)
        _ = try await first.request(
            .PUT, "/api/v1/tenants/acme/ip-filter",
            body: #"{"defaultAction":"accept","rules":[{"name":"r","action":"reject","cidr":"192.0.2.0/24"}]}"#)
        _ = try await first.request(
            .POST, "/api/v1/tenants/acme/shared-access-policies", body: #"{"name":"p","permissions":["deviceConnect"]}"#
        )
        let caBefore = try String(contentsOfFile: first.caPath, encoding: .utf8)
        #expect(await first.stop() == 0)

        let second = try await RunningServer.start(dataDirectory: first.dataDirectory)
        #expect(!second.process.standardOutput.contains("Bootstrap admin credential"))
        #expect(second.adminToken == token)
        #expect(try String(contentsOfFile: second.caPath, encoding: .utf8) == caBefore)
        let keysAfter = try await second.request(.GET, "/api/v1/tenants/acme/devices/d1/keys")
        #expect(keysAfter.status == 200)
        #expect(
            (keysAfter.json?["authentication"] as? [String: Any])?["symmetricKey"] as? [String: String]
                == ((try JSONSerialization.jsonObject(with: keys) as? [String: Any])?["authentication"]
                as? [String: Any])?["symmetricKey"] as? [String: String])
        #expect((keysAfter.json?["attributes"] as? [String: String]) == ["site": "north"])
        #expect(
            (try await second.request(.GET, "/api/v1/tenants/acme/groups/g").json?["members"] as? [String]) == ["d1"])
        #expect(
            ((try await second.request(.GET, "/api/v1/tenants/acme/ip-filter").json?["rules"] as? [[String: String]])?
                .first)?["cidr"] == "192.0.2.0/24")
        #expect(
            ((try await second.request(.GET, "/api/v1/tenants/acme/shared-access-policies").json?["items"]
                as? [[String: Any]])?.count) == 1)
        #expect(await second.stop() == 0)
    }

    @Test func databaseHoldsNoPlaintextKeys() async throws {
        let server = try await RunningServer.start()
        var secrets: [String] = []
        for index in 0..<5 {
            let created = try await server.request(
                .POST, "/api/v1/tenants/default/devices", body: #"{"deviceId":"k\#(index)"}"#)
            let keys = try #require(
                (created.json?["authentication"] as? [String: Any])?["symmetricKey"] as? [String: String])
            secrets += [keys["primaryKey"], keys["secondaryKey"]].compactMap { $0 }
        }
        let policy = try await server.request(
            .POST, "/api/v1/tenants/default/shared-access-policies",
            body: #"{"name":"p","permissions":["deviceConnect"]}"#)
        secrets += ((policy.json?["keys"] as? [String: String]) ?? [:]).values
        #expect(secrets.count == 12)
        #expect(await server.stop() == 0)
        var stored = Data()
        for file in try FileManager.default.contentsOfDirectory(atPath: server.dataDirectory)
        where file.hasPrefix("warden.sqlite") {
            stored += FileManager.default.contents(atPath: server.dataDirectory + "/" + file) ?? Data()
        }
        #expect(stored.count > 4096)
        for secret in secrets {
            #expect(stored.range(of: Data(secret.utf8)) == nil)
            #expect(stored.range(of: try #require(Data(base64Encoded: secret))) == nil)
        }
        #expect(stored.range(of: Data(server.adminToken.utf8)) == nil)
    }

    @Test func wrongMasterKeyStopsStartUp() async throws {
        let first = try await RunningServer.start()
        #expect(await first.stop() == 0)
        let wrongKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let second = try WardenProcess(
            ["serve", "--data-dir", first.dataDirectory, "--https-port", "0", "--mqtt-port", "0", "--amqp-port", "0"],
            dataDirectory: first.dataDirectory,
            environment: ["WARDEN_MASTER_KEY": wrongKey])
        #expect(await second.waitForExit() == 78)
        #expect(second.standardError.contains("does not open the secrets"))
        try FileManager.default.removeItem(atPath: first.dataDirectory + "/master.key")
        let third = try WardenProcess(
            ["serve", "--data-dir", first.dataDirectory, "--https-port", "0", "--mqtt-port", "0", "--amqp-port", "0"],
            dataDirectory: first.dataDirectory)
        #expect(await third.waitForExit() == 78)
        #expect(third.standardError.contains("no master.key"))
    }
}
