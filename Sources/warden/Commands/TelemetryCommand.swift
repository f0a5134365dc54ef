import ArgumentParser
import Foundation
import WardenAPI

/// `warden telemetry DEVICE`: a device's stored telemetry, and with `--follow` what arrives next.
struct TelemetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "telemetry",
        abstract: "Show a device's telemetry (oldest first); --follow keeps printing new messages.")

    @OptionGroup var target: DeviceCommand.Target
    @Option(help: "From this time: ISO 8601 (2026-11-29T19:00:00Z) or an age (15m, 2h, 7d). Default: 1h.")
    var since = "1h"
    @Option(help: "Up to this time (same forms). Default: now.") var until: String?
    @Flag(help: "After the stored messages, wait for new ones until interrupted.") var follow = false
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await APIClient.run(client) { api, output in
            var query = "?from=\(APIClient.segment(since))"
            if let until { query += "&to=\(APIClient.segment(until))" }
            let stored: [TelemetryResource] = try await api.all(target.path + "/telemetry" + query)
            for message in stored { try print(message, output) }
            guard follow else {
                if stored.isEmpty, !output.isJSON { output.line("(no telemetry since \(since))") }
                return
            }
            let after = stored.last.map { "?after=\($0.sequenceNumber)" } ?? ""
            try await api.follow(target.path + "/telemetry/stream" + after) { data in
                try print(try api.decode(TelemetryResource.self, Data(data.utf8)), output)
            }
        }
    }

    /// One message: a JSON line, or time, sequence number, properties and body.
    private func print(_ message: TelemetryResource, _ output: Output) throws {
        if output.isJSON {
            let encoder = JSONEncoderFactory.make()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return output.json(try encoder.encode(message))
        }
        let properties =
            (message.systemProperties.map { ($0.key, $0.value) }
            + message.properties.map { ($0.key, $0.value ?? "(null)") })
            .sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        let body = message.bodyEncoding == "base64" ? "base64:" + message.body : message.body
        output.line(
            "\(message.enqueuedTime)  #\(message.sequenceNumber)  \(properties.isEmpty ? "-" : properties)  \(body)")
    }
}
