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

    /// Every ban, or those on one tenant's devices.
    static func path(_ tenant: String?) -> String {
        tenant.map { "/api/v1/tenants/\(APIClient.segment($0))/bans" } ?? "/api/v1/bans"
    }

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
            // A device ban goes through its tenant, so that the tenant's own administrators may make it.
            var body: [String: Any] =
                if let address { ["kind": "address", "value": address] } else if let clientID {
                    ["kind": "client-id", "value": clientID]
                } else { ["deviceId": device ?? ""] }
            body["reason"] = reason
            body["ttlSeconds"] = ttl.flatMap(DurationText.seconds).map { Int(clamping: $0) }
            let path = device == nil ? "/api/v1/bans" : "/api/v1/tenants/\(APIClient.segment(tenant))/bans"
            try await APIClient.run(client) { [body] api, output in
                try await api.show(.POST, path, body: body, as: BanResource.self, to: output) {
                    BanCommand.show($0, output)
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The bans in force.")
        @Option(help: "Only the bans on this tenant's devices (its administrators may list them).") var tenant: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                try await api.show(.GET, BanCommand.path(tenant), as: ListResource<BanResource>.self, to: output) {
                    page in
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
        @Option(help: "The banned device's tenant (for its administrators); any ban otherwise.") var tenant: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                _ = try await api.send(.DELETE, BanCommand.path(tenant) + "/\(APIClient.segment(id))")
                if !output.isJSON { output.line("Lifted ban \(id).") }
            }
        }
    }
}

/// `warden defender …`: what the Defender saw.
struct DefenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "defender",
        abstract: "The Defender: alerts (list, acknowledge, resolve), quarantines, and each tenant's rules.",
        subcommands: [
            Alerts.self, Acknowledge.self, Resolve.self, Quarantine.self, Release.self, Quarantines.self, Rules.self,
            Inventory.self, Audit.self, Report.self,
        ])

    /// `warden defender report [--tenant T] [--json]`.
    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "The security posture against NIST CSF 2.0: each function's tier against the target, each category with its evidence."
        )
        @Option(help: "A tenant (its administrators may read it); the whole platform otherwise.") var tenant: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let path =
                tenant.map { "/api/v1/tenants/\(APIClient.segment($0))/defender/report" } ?? "/api/v1/defender/report"
            try await APIClient.run(client) { api, output in
                let data = try await api.send(.GET, path)
                if output.isJSON { return output.json(data) }
                let report = try api.decode(PostureReportResource.self, data)
                output.table(
                    ["FUNCTION", "TIER", "TARGET", "CATEGORY", "STATE", "EVIDENCE"],
                    report.functions.flatMap { function in
                        function.categories.enumerated().map { index, category in
                            index == 0
                                ? [
                                    function.name, String(function.tier), String(function.target), category.id,
                                    category.state, category.evidence,
                                ]
                                : ["", "", "", category.id, category.state, category.evidence]
                        }
                    })
                output.line("Open alerts: \(report.openAlerts).")
            }
        }
    }

    /// `warden defender audit [--last] [--tenant T] [--json]`.
    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Run the audit checks now (or show the newest report): each finding names the resource, its severity, why it matters and how to fix it."
        )
        @Flag(help: "Show the newest report instead of running the checks.") var last = false
        @Option(help: "Only this tenant's findings of the newest report (a tenant's administrators may read it).")
        var tenant: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let data =
                    if let tenant {
                        try await api.send(.GET, "/api/v1/tenants/\(APIClient.segment(tenant))/defender/audit")
                    } else {
                        try await api.send(last ? .GET : .POST, "/api/v1/defender/audit")
                    }
                if output.isJSON { return output.json(data) }
                let report = try api.decode(AuditReportResource.self, data)
                output.line(
                    "Audit \(report.id) of \(ISO8601DateFormatter().string(from: report.finishedAt)): "
                        + "\(report.checks.count) checks, \(report.findings.count) finding\(report.findings.count == 1 ? "" : "s")."
                )
                output.table(
                    ["SEVERITY", "CHECK", "RESOURCE", "FOUND", "FIX"],
                    report.findings.map { [$0.severity, $0.check, $0.resource, $0.detail, $0.fix] })
                for (check, count) in report.omitted.sorted(by: { $0.key < $1.key }) {
                    output.line("\(check): \(count) more findings not listed.")
                }
            }
        }
    }

    /// `warden defender inventory [--tenant T] [--json|--csv]`: every device, over every page.
    struct Inventory: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Every device: authentication, last connection (address, protocol, TLS, cipher suite, client library, certificate expiry) and data flows."
        )
        @Option(help: "The tenant (default: default).") var tenant = "default"
        @Flag(help: "CSV, one line per device, for a spreadsheet.") var csv = false
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let items: [InventoryResource] = try await api.all(
                    "/api/v1/tenants/\(APIClient.segment(tenant))/defender/inventory")
                if output.isJSON { return try output.json(encoding: items) }
                if csv {
                    for line in [InventoryResource.csvHeader] + items.map(\.csvLine) { output.line(line) }
                    return
                }
                output.table(
                    [
                        "DEVICE", "STATUS", "AUTH", "LAST CONNECTED", "ADDRESS", "PROTOCOL", "TLS", "CLIENT",
                        "QUARANTINE",
                    ],
                    items.map { item in
                        [
                            item.deviceId, item.status, item.authentication,
                            item.lastConnectedAt.map { ISO8601DateFormatter().string(from: $0) } ?? "never",
                            item.address ?? "", item.protocol ?? "", item.tlsVersion ?? "", item.clientLibrary ?? "",
                            item.quarantine ?? "",
                        ]
                    })
            }
        }
    }

    /// `warden defender rules [show|set FILE|reset]`.
    struct Rules: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A tenant's device rules: show them, set them from a JSON document, or reset them.",
            subcommands: [Show.self, Set.self, Reset.self], defaultSubcommand: Show.self)

        static func path(_ tenant: String) -> String { "/api/v1/tenants/\(APIClient.segment(tenant))/defender/rules" }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "The rules in force (the platform's, with what the tenant's document changes).")
            @Option(help: "The tenant (default: default).") var tenant = "default"
            @OptionGroup var client: ClientOptions

            func run() async throws {
                try await APIClient.run(client) { api, output in
                    let data = try await api.send(.GET, Rules.path(tenant))
                    if output.isJSON { return output.json(data) }
                    try Rules.describe(data, api: api, output: output)
                }
            }
        }

        struct Set: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Replace the tenant's rules document (JSON; what it leaves out stays the platform's).")
            @Argument(help: "The document file.") var file: String
            @Option(help: "The tenant (default: default).") var tenant = "default"
            @OptionGroup var client: ClientOptions

            func run() async throws {
                let document = try Output.contents(of: file)
                try await APIClient.run(client) { api, output in
                    let data = try await api.send(
                        .PUT, Rules.path(tenant), raw: document, contentType: "application/json")
                    if output.isJSON { return output.json(data) }
                    try Rules.describe(data, api: api, output: output)
                }
            }
        }

        struct Reset: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Go back to the platform's rules.")
            @Option(help: "The tenant (default: default).") var tenant = "default"
            @OptionGroup var client: ClientOptions

            func run() async throws {
                try await APIClient.run(client) { api, output in
                    _ = try await api.send(.DELETE, Rules.path(tenant))
                    if !output.isJSON { output.line("Tenant \(tenant) has the platform's rules.") }
                }
            }
        }

        /// One line per rule: its settings and its response.
        static func describe(_ data: Data, api: APIClient, output: Output) throws {
            let state = try api.decode(DefenderRulesState.self, data)
            output.table(
                ["RULE", "SETTINGS", "RESPONSE"],
                state.rules.keys.sorted().map { name in
                    let fields = state.rules[name] ?? [:]
                    let response = fields["response"]?.text ?? ""
                    let settings = fields.keys.sorted().filter { $0 != "response" }.map {
                        "\($0)=\(fields[$0]?.text ?? "")"
                    }
                    return [name, settings.joined(separator: " "), response]
                })
            if !state.hasDocument { output.line("(the platform's rules: the tenant has no document)") }
        }
    }

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
        @Option(help: "Only this tenant's (its administrators may list them); every alert otherwise.") var tenant:
            String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let query = status.map { "?status=\(APIClient.segment($0))" } ?? ""
            try await APIClient.run(client) { api, output in
                try await api.show(
                    .GET, DefenderCommand.alertsPath(tenant) + query, as: ListResource<AlertResource>.self, to: output
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
        @Option(help: "The alert's tenant (for its administrators); any alert otherwise.") var tenant: String?
        @OptionGroup var client: ClientOptions

        func run() async throws { try await DefenderCommand.change(id, "acknowledge", tenant, client) }
    }

    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resolve an alert (the rule may raise a new one).")
        @Argument(help: "The alert's id.") var id: String
        @Option(help: "The alert's tenant (for its administrators); any alert otherwise.") var tenant: String?
        @OptionGroup var client: ClientOptions

        func run() async throws { try await DefenderCommand.change(id, "resolve", tenant, client) }
    }

    /// The alerts of a tenant, or all of them.
    static func alertsPath(_ tenant: String?) -> String {
        tenant.map { "/api/v1/tenants/\(APIClient.segment($0))/defender/alerts" } ?? "/api/v1/defender/alerts"
    }

    static func change(_ id: String, _ verb: String, _ tenant: String?, _ client: ClientOptions) async throws {
        try await APIClient.run(client) { api, output in
            try await api.show(
                .POST, alertsPath(tenant) + "/\(APIClient.segment(id))/\(verb)", as: AlertResource.self, to: output
            ) { output.line("Alert \($0.id) is \($0.status).") }
        }
    }
}

/// `GET …/defender/rules` as the CLI reads it: each rule's settings as text.
struct DefenderRulesState: Decodable {
    let rules: [String: [String: Setting]]
    let hasDocument: Bool

    /// A setting of any JSON type, kept as text.
    struct Setting: Decodable {
        let text: String

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) {
                text = String(flag)
            } else if let number = try? container.decode(Double.self) {
                text = number.rounded() == number ? String(format: "%.0f", number) : String(number)
            } else {
                text = (try? container.decode(String.self)) ?? "null"
            }
        }
    }

    private enum CodingKeys: String, CodingKey { case rules, document }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        rules = try container.decode([String: [String: Setting]].self, forKey: .rules)
        hasDocument = !(try container.decodeNil(forKey: .document))
    }
}

/// An audit report as the CLI reads it.
struct AuditReportResource: Decodable {
    struct Finding: Decodable {
        let check: String
        let severity: String
        let resource: String
        let detail: String
        let fix: String
    }

    let id: String
    let finishedAt: Date
    let checks: [String]
    let findings: [Finding]
    let omitted: [String: Int]
}

/// A posture report as the CLI reads it.
struct PostureReportResource: Decodable {
    struct Function: Decodable {
        struct Category: Decodable {
            let id: String
            let state: String
            let evidence: String
        }

        let name: String
        let tier: Int
        let target: Int
        let categories: [Category]
    }

    let functions: [Function]
    let openAlerts: Int
}
