import ArgumentParser
import Foundation
import NIOHTTP1
import WardenAPI

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

    static func seconds(_ text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        guard let last = text.last else { return nil }
        // total: parses text: nil unless a number in range.
        if let unit = units[last], let value = Int(text.dropLast()), value > 0 {
            let (seconds, overflow) = value.multipliedReportingOverflow(by: unit)
            return overflow ? nil : seconds
        }
        // total: parses text: nil unless a number in range.
        if let value = Int(text), value > 0 { return value }
        return nil
    }
}
