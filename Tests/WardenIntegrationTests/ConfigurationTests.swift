import Foundation
import Testing

/// Start-up configuration: one precedence (flags > WARDEN_* > YAML > defaults); unknown keys and bad values stop it.
@Suite struct ConfigurationTests {
    private func serve(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32?, String) {
        let directory = try makeDataDirectory()
        let process = try WardenProcess(
            ["serve", "--data-dir", directory, "--mqtt-port", "0", "--amqp-port", "0"] + arguments,
            dataDirectory: directory,
            environment: environment)
        let status = await process.waitForExit()
        return (status, process.standardError)
    }

    private func yaml(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appending(path: "warden-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func unknownKeysStopStartUpNamingTheKey() async throws {
        let (fileStatus, fileError) = try await serve(["--config", try yaml("https:\n  prot: 1\n")])
        #expect(fileStatus == 78)
        #expect(fileError.contains("Unknown setting 'https.prot'"))
        let (envStatus, envError) = try await serve([], environment: ["WARDEN_HTTPS_PROT": "1"])
        #expect(envStatus == 78)
        #expect(envError.contains("WARDEN_HTTPS_PROT"))
    }

    @Test func invalidValuesStopStartUpNamingTheKey() async throws {
        let cases: [([String], [String: String], String)] = [
            (["--https-port", "99999"], [:], "https.port"),
            (["--log-format", "xml"], [:], "log.format"),
            ([], ["WARDEN_TLS_MINIMUM_VERSION": "1.0"], "tls.minimum-version"),
            (["--config", try yaml("hub:\n  hostname: 'bad host'\n")], [:], "bad host"),
            (["--config", try yaml("tls:\n  certificate: /x.pem\n")], [:], "tls.private-key"),
            (["--config", "/nonexistent/warden.yaml"], [:], "cannot be read"),
            ([], ["WARDEN_STORE_BACKEND": "mysql"], "store.backend"),
            ([], ["WARDEN_STORE_BACKEND": "postgresql"], "store.url"),
            (
                [], ["WARDEN_STORE_BACKEND": "postgresql", "WARDEN_STORE_URL": "postgres://w:hunter2hunter2@db/w"],
                "WARDEN_STORE_PASSWORD"
            ),
            (
                [], ["WARDEN_STORE_BACKEND": "postgresql", "WARDEN_STORE_URL": "postgres://w@db/w?sslmode=require"],
                "do not verify the server"
            ),
            ([], ["WARDEN_STORE_BACKEND": "postgresql", "WARDEN_STORE_URL": "postgres://w@db:99999/w"], "port"),
            ([], ["WARDEN_STORE_POOL_SIZE": "0"], "store.pool-size"),
        ]
        for (arguments, environment, named) in cases {
            let (status, error) = try await serve(arguments, environment: environment)
            #expect(status == 78, "\(arguments) \(environment)")
            #expect(error.contains(named), "\(error)")
            #expect(!error.contains("hunter2"), "a password was printed: \(error)")
        }
    }

    @Test func flagsBeatEnvironmentBeatFile() async throws {
        let file = try yaml("hub:\n  hostname: from-file.example\nlog:\n  level: info\n")
        let onlyFile = try await RunningServer.start(arguments: ["--config", file])
        #expect(try await onlyFile.cli(["device", "create", "d"]).status == 0)
        #expect(
            try await onlyFile.cli(["device", "connection-string", "d"]).stdout.contains("HostName=from-file.example;"))
        _ = await onlyFile.stop()

        let environment = ["WARDEN_HUB_HOSTNAME": "from-env.example"]
        let fileAndEnv = try await RunningServer.start(arguments: ["--config", file], environment: environment)
        #expect(try await fileAndEnv.cli(["device", "create", "d"]).status == 0)
        #expect(
            try await fileAndEnv.cli(["device", "connection-string", "d"]).stdout.contains("HostName=from-env.example;")
        )
        _ = await fileAndEnv.stop()

        let all = try await RunningServer.start(
            arguments: ["--config", file, "--hub-hostname", "from-flag.example"], environment: environment)
        #expect(try await all.cli(["device", "create", "d"]).status == 0)
        #expect(try await all.cli(["device", "connection-string", "d"]).stdout.contains("HostName=from-flag.example;"))
        _ = await all.stop()
    }
}

/// A port already in use stops start-up with a sentence and exit 69, not a stack of NIO words.
@Suite struct ListenerTests {
    @Test func busyPortIsExplained() async throws {
        let first = try await RunningServer.start()
        let port = try #require(first.url.split(separator: ":").last.map(String.init))
        let directory = try makeDataDirectory()
        let second = try WardenProcess(
            ["serve", "--data-dir", directory, "--https-port", port, "--mqtt-port", "0", "--amqp-port", "0"],
            dataDirectory: directory)
        #expect(await second.waitForExit() == 69)
        #expect(second.standardError.contains("Cannot listen on 127.0.0.1:\(port)"))
        #expect(await first.stop() == 0)
    }

    @Test func busyMQTTPortIsExplained() async throws {
        let first = try await RunningServer.start()
        let port = try #require(
            first.process.standardOutput.firstMatch(of: /MQTT: mqtts:\/\/localhost:(\d+)/)?.output.1)
        let directory = try makeDataDirectory()
        let second = try WardenProcess(
            ["serve", "--data-dir", directory, "--https-port", "0", "--mqtt-port", String(port), "--amqp-port", "0"],
            dataDirectory: directory)
        #expect(await second.waitForExit() == 69)
        #expect(second.standardError.contains("Cannot listen for mqtts"))
        #expect(await first.stop() == 0)
    }
}
