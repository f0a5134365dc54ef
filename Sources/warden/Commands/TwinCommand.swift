import ArgumentParser
import Foundation
import NIOHTTP1
import WardenAPI

/// `warden twin …`: a device's twin.
struct TwinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twin", abstract: "Read a device's twin; set desired properties.",
        subcommands: [Show.self, SetDesired.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the twin (JSON).")
        @OptionGroup var target: DeviceCommand.Target
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                output.json(try Self.pretty(try await api.send(.GET, target.path + "/twin"), json: output.isJSON))
            }
        }

        /// Indented for people, as received for scripts.
        static func pretty(_ data: Data, json: Bool) throws -> Data {
            guard !json, let object = try? JSONSerialization.jsonObject(with: data) else { return data }
            return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        }
    }

    struct SetDesired: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge desired properties (null deletes one); a connected device is told at once.")
        @OptionGroup var target: DeviceCommand.Target
        @Argument(help: "A JSON object, such as '{\"interval\": 30}'.") var patch: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            guard let object = try? JSONSerialization.jsonObject(with: Data(patch.utf8)) as? [String: Any] else {
                throw ValidationError("The patch must be a JSON object, such as '{\"interval\": 30}'.")
            }
            try await APIClient.run(client) { api, output in
                let data = try await api.send(.PATCH, target.path + "/twin/desired", body: object)
                output.json(try Show.pretty(data, json: output.isJSON))
            }
        }
    }
}
