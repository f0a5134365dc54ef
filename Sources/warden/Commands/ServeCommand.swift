import ArgumentParser
import Foundation
import WardenCore
import WardenServer

/// `warden serve`: runs the hub until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the hub (loopback only unless configured otherwise).",
        discussion:
            "Settings, highest precedence first: flags, WARDEN_* environment variables, the YAML file, defaults. See docs/configuration.md."
    )

    @Option(help: "A YAML configuration file (default: $WARDEN_CONFIG).")
    var config: String?

    @Option(help: "The data directory (default ./warden-data).")
    var dataDir: String?

    @Option(help: "Log format: text or json.")
    var logFormat: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Option(help: "The HTTPS listener's address (default 127.0.0.1).")
    var httpsAddress: String?

    @Option(help: "The HTTPS listener's port (default 8443; 0 picks a free port).")
    var httpsPort: String?

    @Option(help: "The hub's host name in connection strings and the server certificate (default localhost).")
    var hubHostname: String?

    @Option(help: "The MQTT/TLS listener's port (default 8883; 0 picks a free port).")
    var mqttPort: String?

    @Option(help: "The AMQPS listener's port (default 5671; 0 picks a free port).")
    var amqpPort: String?

    func run() async throws {
        let flags = [
            "data-dir": dataDir, "log.format": logFormat, "log.level": logLevel, "https.address": httpsAddress,
            "https.port": httpsPort, "hub.hostname": hubHostname, "mqtt.port": mqttPort,
            "amqp.port": amqpPort,
        ].compactMapValues { $0 }
        let environment = ProcessInfo.processInfo.environment
        do {
            let configuration = try await ServerConfiguration.load(
                flags: flags, environment: environment, file: config ?? environment["WARDEN_CONFIG"])
            try await WardenServer.run(configuration, version: Warden.version) { report in
                Output(isJSON: false).line(NextStepsBanner.text(report, version: Warden.version))
            }
        } catch let error as WardenError {
            Output.error(error.reason)
            throw [.configUnknownKey, .configInvalidValue, .configUnreadableFile, .masterKeyInvalid, .storeUnusable]
                .contains(
                    error.code)
                ? CLIExitCode.configuration : CLIExitCode.code(for: error.code.kind)
        }
    }
}
