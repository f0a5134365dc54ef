import ArgumentParser
import Foundation
import NIOHTTP1
import WardenAPI

/// `warden policy apply|list|show|versions|rollback|explain`: the tenant's authorization policy (docs/policy.md).
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Write, read, roll back and try the tenant's authorization policy.",
        discussion: """
            warden policy apply policy.json          (a new version; with "tolerance": "audit-only" it is tried
                                                      beside the enforced one and only recorded)
            warden policy explain --device unit-1 --action publish --topic floors/3/temp
            warden policy versions; warden policy rollback 3
            """,
        subcommands: [Apply.self, List.self, Show.self, Versions.self, Rollback.self, Explain.self])

    struct Tenant: ParsableArguments {
        @Option(help: "The tenant (default: default).") var tenant = "default"

        var path: String { "/api/v1/tenants/\(APIClient.segment(tenant))/policies" }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put a policy document (JSON) in force as a new version; the same document again changes nothing."
        )
        @Argument(help: "The document file.") var file: String
        @OptionGroup var tenant: Tenant
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let document = try Output.contents(of: file)
            try await APIClient.run(client) { api, output in
                let isYAML = file.hasSuffix(".yaml") || file.hasSuffix(".yml")
                let data = try await api.send(
                    .PUT, tenant.path + "/document", raw: document,
                    contentType: isYAML ? "application/yaml" : "application/json")
                if output.isJSON { return output.json(data) }
                let version = try api.decode(PolicyVersionResource.self, data)
                output.line(
                    version.auditOnly
                        ? "Policy version \(version.version) of tenant \(tenant.tenant) is tried (audit-only): its "
                            + "decisions are recorded, the enforced version still decides."
                        : "Policy version \(version.version) is in force in tenant \(tenant.tenant).")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the statements in force, the shipped ones included, in the order they are considered.")
        @OptionGroup var tenant: Tenant
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                try await api.show(.GET, tenant.path, as: PolicyInForceResource.self, to: output) { policy in
                    let tried = policy.triedVersion.map { "; version \($0) tried (audit-only)" } ?? ""
                    output.line("Version \(policy.version) enforced (\(policy.tolerance))\(tried).")
                    if let unreadable = policy.unreadable { output.line("Every request is denied: \(unreadable)") }
                    output.table(
                        ["STATEMENT", "EFFECT", "ACTIONS", "RESOURCES", "SOURCE"],
                        policy.statements.map {
                            [
                                $0.id, $0.effect, $0.actions.joined(separator: ","),
                                $0.resources.isEmpty ? "*" : $0.resources.joined(separator: " "), $0.source,
                            ]
                        })
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the newest document as written, or an earlier version's.")
        @Option(help: "A kept version (default: the newest).") var version: Int?
        @OptionGroup var tenant: Tenant
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                var number = version ?? 0
                if version == nil { number = try await PolicyCommand.newest(api, tenant) }
                try await api.show(
                    .GET, tenant.path + "/versions/\(number)", as: PolicyVersionResource.self, to: output
                ) { output.line($0.document ?? "") }
            }
        }
    }

    struct Versions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the kept versions, newest first.")
        @OptionGroup var tenant: Tenant
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                try await api.show(
                    .GET, tenant.path + "/versions", as: ListResource<PolicyVersionResource>.self, to: output
                ) { list in
                    output.table(
                        ["VERSION", "AUTHOR", "CREATED", "RESTORES", "AUDIT-ONLY", "BYTES"],
                        list.items.map {
                            [
                                "\($0.version)", $0.author, "\($0.createdAt)", $0.restoredFrom.map { "\($0)" } ?? "",
                                $0.auditOnly ? "yes" : "", "\($0.bytes)",
                            ]
                        })
                }
            }
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put an earlier version's document back in force, as a new version.")
        @Argument(help: "The version to restore.") var version: Int
        @OptionGroup var tenant: Tenant
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                try await api.show(
                    .POST, tenant.path + "/rollback", body: ["version": version], as: PolicyVersionResource.self,
                    to: output
                ) { restored in
                    output.line(
                        "Policy version \(restored.version) (the document of version \(version)) is in force in "
                            + "tenant \(tenant.tenant).")
                }
            }
        }
    }

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tell the story of a denial by its reference id, or say whether the policy in force would "
                + "allow a request, and why, without any traffic.")
        @Argument(help: "A denial's reference id (from a 5.0 reason string, a log line or an audit record).")
        var reference: String?
        @Option(help: "The device asking.") var device: String?
        @Option(help: "The service asking, by its shared access policy.") var service: String?
        @Option(help: "connect, publish, subscribe, receive, … (docs/policy.md).") var action: String?
        @Option(help: "The topic (a filter to subscribe).") var topic: String?
        @Option(
            name: .customLong("context"),
            help:
                "What the request shows: source-address=IP, protocol=mqtt|mqtt-ws|https|amqp|amqp-ws, time=ISO 8601, risk=normal|elevated|high|critical, tls-version=1.2|1.3|none, payload-size=BYTES, message-rate=PER-SECOND, connection-age=DURATION; repeatable."
        )
        var context: [String] = []
        @OptionGroup var tenant: Tenant
        @OptionGroup var client: ClientOptions

        func validate() throws {
            guard (reference == nil) != (action == nil) else {
                throw ValidationError("Give a reference id, or --action with --device or --service.")
            }
            // A reference's story is what was recorded: the options of a simulation would silently mean nothing.
            guard reference == nil || (device == nil && service == nil && topic == nil && context.isEmpty) else {
                throw ValidationError("A reference id takes no --device, --service, --topic or --context.")
            }
        }

        func run() async throws {
            if let reference { return try await story(reference) }
            var body: [String: Any] = ["action": action ?? ""]
            if let device { body["device"] = device }
            if let service { body["service"] = service }
            if let topic { body["topic"] = topic }
            if !context.isEmpty { body["context"] = try Self.context(context) }
            try await APIClient.run(client) { api, output in
                try await api.show(
                    .POST, tenant.path + "/simulate", body: body, as: PolicySimulationResource.self, to: output
                ) { simulation in
                    if simulation.action != action {
                        output.line(
                            "Allowed as '\(action ?? "")'; it stands for '\(simulation.action)', decided after it:")
                    }
                    output.line(Self.verdict(simulation.decision, simulation.statement, simulation.policyVersion))
                    for reason in simulation.reasons { output.line("  \(reason)") }
                    Self.show(simulation.considered, output)
                    if let tried = simulation.tried {
                        output.line(
                            "Tried (audit-only): " + Self.verdict(tried.decision, tried.statement, tried.policyVersion))
                        for reason in tried.reasons { output.line("  \(reason)") }
                    }
                }
            }
        }

        /// `GET …/explanations/{reference}`, printed.
        private func story(_ reference: String) async throws {
            try await APIClient.run(client) { api, output in
                try await api.show(
                    .GET, tenant.path + "/explanations/" + APIClient.segment(reference), as: PolicyStoryResource.self,
                    to: output
                ) { story in
                    let record = story.record
                    output.fields([
                        ("reference", reference), ("at", record.at),
                        ("principal", "\(record.actorKind):\(record.actor)"),
                        ("action", record.action), ("resource", record.target),
                        ("source address", record.sourceIP), ("protocol", record.details["protocol"] ?? ""),
                        ("outcome", "\(record.outcome) (\(record.reason ?? ""))"),
                        ("policy version", story.policyVersion.map { "\($0)" } ?? "—"),
                        ("statement", story.statement ?? "none applied"),
                        ("unmet", record.details["unmet"] ?? ""),
                    ])
                    guard let replay = story.replay else {
                        return output.line("Not decided again: \(story.replayUnavailable ?? "")")
                    }
                    output.line(
                        "Decided again with version \(story.policyVersion ?? 0) for the requestor as registered now: "
                            + Self.verdict(replay.decision, replay.statement, story.policyVersion ?? 0))
                    Self.show(replay.considered, output)
                }
            }
        }

        /// The statements considered, one line each.
        private static func show(_ considered: [PolicyTraceResource], _ output: Output) {
            guard !considered.isEmpty else { return output.line("No statement names this requestor and action.") }
            output.table(
                ["STATEMENT", "EFFECT", "OUTCOME", "WHY"],
                considered.map { [$0.statement, $0.effect, $0.outcome, $0.reasons.joined(separator: "; ")] })
        }

        private static func verdict(_ decision: String, _ statement: String?, _ version: Int) -> String {
            "\(decision) by \(statement.map { "statement '\($0)'" } ?? "no statement") (policy version \(version))"
        }

        /// `key=value` pairs as the API names them.
        private static func context(_ pairs: [String]) throws -> [String: Any] {
            var context: [String: Any] = [:]
            for pair in pairs {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                switch (parts.first, parts.count) {
                case ("source-address", 2): context["sourceAddress"] = parts[1]
                case ("protocol", 2): context["protocol"] = parts[1]
                case ("time", 2): context["time"] = parts[1]
                case ("risk", 2): context["risk"] = parts[1]
                case ("tls-version", 2): context["tlsVersion"] = parts[1]
                case ("connection-age", 2): context["connectionAge"] = parts[1]
                // total: parses text: nil unless a number in range.
                case ("payload-size", 2) where Int(parts[1]) != nil: context["payloadSize"] = Int(parts[1])
                // total: parses text: nil unless a number; JSON has no infinities.
                case ("message-rate", 2) where Double(parts[1])?.isFinite == true:
                    context["messageRate"] = Double(parts[1])
                default:
                    throw ValidationError(
                        "--context takes source-address=IP, protocol=NAME, time=ISO8601, risk=LEVEL, tls-version=1.2|1.3|none, "
                            + "payload-size=BYTES, message-rate=PER-SECOND or connection-age=DURATION, not '\(pair)'.")
                }
            }
            return context
        }
    }

    /// The newest version's number; none written is an error that says what is in force.
    static func newest(_ api: APIClient, _ tenant: Tenant) async throws -> Int {
        let data = try await api.send(.GET, tenant.path + "/versions")
        guard let newest = try api.decode(ListResource<PolicyVersionResource>.self, data).items.first else {
            throw CLIFailure(
                "Tenant \(tenant.tenant) has written no policy document; the shipped statements alone are in force "
                    + "('warden policy list' shows them).", exitCode: CLIExitCode.notFound)
        }
        return newest.version
    }
}
