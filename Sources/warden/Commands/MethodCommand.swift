import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import WardenAPI
import WardenCore

/// `warden method invoke DEVICE NAME`: a direct method.
struct MethodCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "method", abstract: "Invoke direct methods on connected devices.", subcommands: [Invoke.self])

    struct Invoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Invoke a method and print the device's answer.")
        @OptionGroup var target: DeviceCommand.Target
        @Argument(help: "The method name.") var name: String
        @Option(help: "The payload, JSON (default: null).") var payload: String?
        @Option(help: "How long to wait for the answer: 5s to 300s (default 30s).") var timeout = "30s"
        @OptionGroup var client: ClientOptions

        /// Malformed flags are usage errors, told with this subcommand's usage.
        func validate() throws {
            guard let seconds = DurationText.seconds(timeout), (5...300).contains(seconds) else {
                throw ValidationError("--timeout must be 5s to 300s, not '\(timeout)'.")
            }
            if let payload,
                (try? JSONSerialization.jsonObject(with: Data(payload.utf8), options: .fragmentsAllowed)) == nil
            {
                throw ValidationError("--payload must be JSON, such as '{\"level\": 2}'.")
            }
        }

        func run() async throws {
            let seconds = Int(clamping: DurationText.seconds(timeout) ?? 30)
            var body: [String: Any] = ["responseTimeoutInSeconds": seconds]
            if let payload {
                guard
                    let value = try? JSONSerialization.jsonObject(with: Data(payload.utf8), options: .fragmentsAllowed)
                else { throw ValidationError("--payload must be JSON, such as '{\"level\": 2}'.") }
                body["payload"] = value
            }
            try await APIClient.run(client) { api, output in
                let path = target.path + "/methods/" + APIClient.segment(name)
                // total: 5...300, validated.
                let data = try await api.send(.POST, path, body: body, timeout: .seconds(Int64(seconds) + 10))
                output.json(try TwinCommand.Show.pretty(data, json: output.isJSON))
            }
        }
    }
}
