import ArgumentParser
import Foundation
import NIOHTTP1
import WardenAPI
import WardenCore

/// `warden token ID --ttl 1h`: a SAS token for a device, signed with its primary key.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Issue a SAS token for a device (the MQTT password, the HTTPS Authorization).")

    @OptionGroup var target: DeviceCommand.Target
    @Option(help: "Lifetime: a number with s, m, h or d (default 1h, at most 365d).") var ttl = "1h"
    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard Self.seconds(ttl) != nil else {
            throw ValidationError("--ttl takes a number with s, m, h or d, such as 30m or 1h.")
        }
    }

    func run() async throws {
        let seconds = Self.seconds(ttl) ?? 3600
        try await APIClient.run(client) { api, output in
            let data = try await api.send(.POST, target.path + "/sas-tokens", body: ["ttlSeconds": seconds])
            if output.isJSON { return output.json(data) }
            output.line(try api.decode(TokenResource.self, data).token)
        }
    }

    /// Whole seconds, at least one, in any form `DurationText` reads (`90`, `30m`, `1.5h`, `7d`).
    static func seconds(_ text: String) -> Int? {
        guard let seconds = DurationText.seconds(text), seconds >= 1 else { return nil }
        return Int(clamping: seconds.rounded(.down))
    }
}
