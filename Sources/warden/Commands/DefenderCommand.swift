import ArgumentParser
import Foundation
import NIOHTTP1
import WardenAPI
import WardenCore

/// `warden ban …`: refuse an address (before TLS), a client id or a device.
struct BanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ban", abstract: "Ban an address, a client id or a device; list and lift bans.",
        subcommands: [Add.self, List.self, Remove.self])

    static func show(_ ban: BanResource, _ output: Output) {
        output.fields([
            ("ban", ban.id), ("kind", ban.kind), ("value", ban.value), ("reason", ban.reason),
            ("expires", ban.expiresAt.map { ISO8601DateFormatter().string(from: $0) } ?? "when removed"),
            ("by", ban.createdBy),
        ])
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Ban a source: new connections from an address are closed before TLS; a client id or a device is refused at CONNECT and its live connections close."
        )
        @Option(help: "An address or CIDR (192.0.2.7, 198.51.100.0/24, 2001:db8::/48).") var address: String?
        @Option(name: .customLong("client-id"), help: "An MQTT client id, in every tenant.") var clientID: String?
        @Option(help: "A device id (with --tenant).") var device: String?
        @Option(help: "The device's tenant (default: default).") var tenant = "default"
        @Option(help: "How long: 10m, 12h, 7d… (default: until removed).") var ttl: String?
        @Option(help: "Why, for the record.") var reason: String?
        @OptionGroup var client: ClientOptions

        func validate() throws {
            guard [address, clientID, device].compactMap({ $0 }).count == 1 else {
                throw ValidationError("Give one of --address, --client-id or --device.")
            }
            if let ttl, !(1...31_536_000).contains(DurationText.seconds(ttl) ?? 0) {
                throw ValidationError("--ttl takes a duration from 1s to 365d, such as 10m, 12h or 7d.")
            }
        }

        func run() async throws {
            var body: [String: Any] =
                if let address { ["kind": "address", "value": address] } else if let clientID {
                    ["kind": "client-id", "value": clientID]
                } else { ["kind": "device", "value": "\(tenant)/\(device ?? "")"] }
            body["reason"] = reason
            body["ttlSeconds"] = ttl.flatMap(DurationText.seconds).map { Int(clamping: $0) }
            try await APIClient.run(client) { [body] api, output in
                try await api.show(.POST, "/api/v1/bans", body: body, as: BanResource.self, to: output) {
                    BanCommand.show($0, output)
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The bans in force.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                try await api.show(.GET, "/api/v1/bans", as: ListResource<BanResource>.self, to: output) { page in
                    output.table(
                        ["BAN", "KIND", "VALUE", "EXPIRES", "BY", "REASON"],
                        page.items.map {
                            [
                                $0.id, $0.kind, $0.value,
                                $0.expiresAt.map { ISO8601DateFormatter().string(from: $0) } ?? "—", $0.createdBy,
                                $0.reason,
                            ]
                        })
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a ban.")
        @Argument(help: "The ban's id.") var id: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                _ = try await api.send(.DELETE, "/api/v1/bans/\(APIClient.segment(id))")
                if !output.isJSON { output.line("Lifted ban \(id).") }
            }
        }
    }
}

/// `warden defender …`: what the Defender saw.
struct DefenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "defender", abstract: "Alerts the Defender raised: list, acknowledge, resolve.",
        subcommands: [Alerts.self, Acknowledge.self, Resolve.self, Quarantine.self, Release.self, Quarantines.self])

    struct Quarantine: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Raise a device's risk level: its telemetry is refused (at high and critical), its twin, methods and cloud-to-device messages still work."
        )
        @OptionGroup var target: DeviceCommand.Target
        @Option(help: "elevated, high (default) or critical.") var level = "high"
        @Option(help: "Why, for the record.") var reason: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            var body: [String: Any] = ["level": level]
            body["reason"] = reason
            try await APIClient.run(client) { [body] api, output in
                try await api.show(
                    .PUT, target.path + "/quarantine", body: body, as: QuarantineResource.self, to: output
                ) { output.line("Quarantined \($0.deviceId) at \($0.level).") }
            }
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Bring a quarantined device back to normal.")
        @OptionGroup var target: DeviceCommand.Target
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                _ = try await api.send(.DELETE, target.path + "/quarantine")
                if !output.isJSON { output.line("Released \(target.id).") }
            }
        }
    }

    struct Quarantines: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The tenant's quarantined devices.")
        @Option(help: "The tenant (default: default).") var tenant = "default"
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                try await api.show(
                    .GET, "/api/v1/tenants/\(APIClient.segment(tenant))/quarantines",
                    as: ListResource<QuarantineResource>.self, to: output
                ) { page in
                    output.table(
                        ["DEVICE", "LEVEL", "BY", "REASON"],
                        page.items.map { [$0.deviceId, $0.level, $0.createdBy, $0.reason] })
                }
            }
        }
    }

    struct Alerts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Alerts, newest first.")
        @Option(help: "open, acknowledged or resolved (default: all).") var status: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let query = status.map { "?status=\(APIClient.segment($0))" } ?? ""
            try await APIClient.run(client) { api, output in
                try await api.show(
                    .GET, "/api/v1/defender/alerts" + query, as: ListResource<AlertResource>.self, to: output
                ) { page in
                    output.table(
                        ["ALERT", "STATUS", "SEVERITY", "RULE", "SUBJECT", "COUNT", "LAST SEEN"],
                        page.items.map {
                            [
                                $0.id, $0.status, $0.severity, $0.rule, $0.subject, String($0.count),
                                ISO8601DateFormatter().string(from: $0.lastSeen),
                            ]
                        })
                }
            }
        }
    }

    struct Acknowledge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ack", abstract: "Acknowledge an alert.")
        @Argument(help: "The alert's id.") var id: String
        @OptionGroup var client: ClientOptions

        func run() async throws { try await DefenderCommand.change(id, "acknowledge", client) }
    }

    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resolve an alert (the rule may raise a new one).")
        @Argument(help: "The alert's id.") var id: String
        @OptionGroup var client: ClientOptions

        func run() async throws { try await DefenderCommand.change(id, "resolve", client) }
    }

    static func change(_ id: String, _ verb: String, _ client: ClientOptions) async throws {
        try await APIClient.run(client) { api, output in
            try await api.show(
                .POST, "/api/v1/defender/alerts/\(APIClient.segment(id))/\(verb)", as: AlertResource.self, to: output
            ) { output.line("Alert \($0.id) is \($0.status).") }
        }
    }
}
