import ArgumentParser

/// `warden-bench`: load for Warden (and any MQTT broker), on SwiftNIO with Warden's own MQTT codec. Issue 6
/// grows the scenarios; nothing here is asserted by tests beyond "it ran without errors".
@main
struct WardenBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warden-bench",
        abstract: "Load for Warden and other MQTT brokers: telemetry, cloud-to-device, publish/subscribe.",
        subcommands: [
            TelemetryScenario.self, CloudToDeviceScenario.self, PubSubScenario.self, ConnectScenario.self,
            SoakScenario.self,
        ])
}
