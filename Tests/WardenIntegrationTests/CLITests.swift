import Foundation
import Testing

/// The `warden` CLI as an operator uses it, following the README.
@Suite struct CLITests {
    @Test func createsADeviceAndGetsItsCredentials() async throws {
        let server = try await RunningServer.start()
        let created = try await server.cli(["device", "create", "my-device"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("Created device my-device"))

        let connection = try await server.cli(["device", "connection-string", "my-device"])
        #expect(connection.status == 0)
        let string = connection.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(
            string.wholeMatch(of: /HostName=localhost;DeviceId=my-device;SharedAccessKey=[A-Za-z0-9+\/]{43}=/) != nil)

        let token = try await server.cli(["token", "my-device", "--ttl", "1h"])
        #expect(token.status == 0)
        #expect(token.stdout.hasPrefix("SharedAccessSignature sr=localhost%2Fdevices%2Fmy-device&sig="))

        let json = try await server.cli(["device", "list", "--json"])
        let items = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        #expect(items?.map { $0["deviceId"] as? String } == ["my-device"])

        #expect(
            try await server.cli(["device", "disable", "my-device", "--reason", "lost"]).stdout.contains("disabled"))
        let shown = try await server.cli(["device", "show", "my-device"])
        #expect(shown.stdout.contains("lost"))
        #expect(!shown.stdout.contains("SharedAccessKey"))
        #expect(try await server.cli(["device", "enable", "my-device"]).stdout.contains("enabled"))
        #expect(try await server.cli(["device", "rotate-key", "my-device", "--key", "swap"]).status == 0)
        let rotated = try await server.cli(["device", "connection-string", "my-device"])
        #expect(rotated.stdout.trimmingCharacters(in: .whitespacesAndNewlines) != string)
        #expect(try await server.cli(["device", "delete", "my-device"]).status == 0)
        #expect(await server.stop() == 0)
    }

    @Test func tenantsAndCertificateDevices() async throws {
        let server = try await RunningServer.start()
        #expect(try await server.cli(["tenant", "create", "acme"]).status == 0)
        #expect(try await server.cli(["tenant", "list"]).stdout.contains("acme.localhost"))
        let thumbprint = String(repeating: "AB", count: 32)
        let created = try await server.cli([
            "device", "create", "cam", "--tenant", "acme", "--auth", "x509-thumbprint", "--thumbprint", thumbprint,
        ])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try await server.cli(["device", "show", "cam", "--tenant", "acme"]).stdout.contains(thumbprint))
        let noKey = try await server.cli(["device", "connection-string", "cam", "--tenant", "acme"])
        #expect(noKey.status == 67)
        #expect(noKey.stderr.contains("device.not_sas"))
        let sas = try await server.cli(["device", "create", "s1", "--tenant", "acme"])
        #expect(sas.status == 0)
        let string = try await server.cli(["device", "connection-string", "s1", "--tenant", "acme"])
        #expect(
            string.stdout.contains("HostName=acme.localhost;DeviceId=s1;")
                && string.stdout.contains(";GatewayHostName=localhost"))
        #expect(await server.stop() == 0)
    }

    @Test func errorsHaveDocumentedExitCodes() async throws {
        let server = try await RunningServer.start()
        let missing = try await server.cli(["device", "show", "ghost"])
        #expect(missing.status == 66)
        #expect(missing.stderr.contains("There is no device 'ghost'"))
        #expect(try await server.cli(["device", "create", "bad id"]).status == 65)
        #expect(try await server.cli(["device", "create", "twice"]).status == 0)
        #expect(try await server.cli(["device", "create", "twice"]).status == 67)
        #expect(try await server.cli(["token", "twice", "--ttl", "soon"]).status == 64)
        let wrong = try await server.cli(["device", "list"], environment: ["WARDEN_TOKEN": "wdn_wrong"])
        #expect(wrong.status == 77)
        #expect(await server.stop() == 0)
        let down = try await server.cli(["device", "list"])
        #expect(down.status == 69)
        #expect(down.stderr.contains("Is 'warden serve' running?"))
    }
}
