import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import WardenAPI

/// `warden audit …`: read, export and verify the tamper-evident audit log.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Query, export and verify the audit log.",
        subcommands: [Query.self, Export.self, Verify.self])

    struct Filters: ParsableArguments {
        @Option(help: "One tenant's records (auditors need it; platform administrators see every tenant without it).")
        var tenant: String?
        @Option(help: "Only this actor (a username, service, key name or device id).") var actor: String?
        @Option(help: "Only this action (createDevice, signIn, device.authenticate…).") var action: String?
        @Option(help: "success, denied or failure.") var outcome: String?
        @Option(help: "Only the record with this reference id (as a client or a log line was told).")
        var reference: String?
        @Option(help: "From this time: ISO 8601, or an age such as 15m, 2h, 7d.") var since: String?
        @Option(help: "Up to this time (same forms).") var until: String?

        var path: String {
            let base = tenant.map { "/api/v1/tenants/\(APIClient.segment($0))/audit" } ?? "/api/v1/audit"
            return base
        }

        var query: [String] {
            [
                ("actor", actor), ("action", action), ("outcome", outcome), ("reference", reference), ("from", since),
                ("to", until),
            ]
            .compactMap { name, value in value.map { "\(name)=\(APIClient.segment($0))" } }
        }
    }

    struct Query: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show audit records, newest first.")
        @OptionGroup var filters: Filters
        @Option(help: "At most this many records (1–1000).") var limit = 50
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let query = (filters.query + ["limit=\(limit)"]).joined(separator: "&")
                try await api.show(
                    .GET, filters.path + "?" + query, as: ListResource<AuditRecordResource>.self, to: output
                ) { page in
                    output.table(
                        ["SEQ", "TIME", "TENANT", "ACTOR", "IP", "ACTION", "TARGET", "OUTCOME", "REASON"],
                        page.items.map {
                            [
                                "\($0.sequence)", $0.at, $0.tenant ?? "-", "\($0.actorKind):\($0.actor)", $0.sourceIP,
                                $0.action,
                                $0.target, $0.outcome, $0.reason ?? "-",
                            ]
                        })
                }
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write audit records as JSON Lines to standard output, oldest first.")
        @OptionGroup var filters: Filters
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, _ in
                let query = filters.query.joined(separator: "&")
                let data = try await api.send(
                    .GET, filters.path + "/export" + (query.isEmpty ? "" : "?" + query), timeout: .minutes(10))
                Output.write(data, to: .standardOutput)
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk the whole hash chain; any modified, deleted or reordered record is reported (exit 65).")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let data = try await api.send(.POST, "/api/v1/audit/verify", timeout: .minutes(10))
                let result = try api.decode(AuditVerificationResource.self, data)
                if output.isJSON {
                    output.json(data)
                } else if result.intact {
                    output.line(
                        "The audit log is intact: \(result.checked) records, the last is \(result.lastSequence).")
                } else {
                    output.line("The audit log was tampered with: \(result.problem ?? "unknown problem")")
                }
                if !result.intact { throw CLIFailure("Verification failed.", exitCode: CLIExitCode.invalidInput) }
            }
        }
    }
}
