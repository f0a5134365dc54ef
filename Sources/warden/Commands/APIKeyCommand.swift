import ArgumentParser
import Foundation
import NIOHTTP1
import WardenAPI
import WardenCore

/// `warden apikey …`: keys for data access.
struct APIKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikey", abstract: "Manage API keys for data access.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API key; its secret is printed once.",
            discussion: "Permissions: \(Permission.allCases.map(\.rawValue).joined(separator: ", ")).")
        @Argument(help: "A name for the key.") var name: String
        @Option(help: "The tenant.") var tenant: String
        @Option(name: .customLong("permission"), help: "A permission the key carries (repeat for more).")
        var permissions: [String] = []
        @Option(help: "Limit the key to devices in this group.") var group: String?
        @Option(help: "How long the key lives: 90d, 12h… (default: until revoked).") var expires: String?
        @OptionGroup var client: ClientOptions

        func validate() throws {
            guard !permissions.isEmpty else { throw ValidationError("Give at least one --permission.") }
            if let expires, DurationText.seconds(expires) == nil {
                throw ValidationError("--expires takes a duration such as 90d, 12h or 30m.")
            }
        }

        func run() async throws {
            try await APIClient.run(client) { api, output in
                var body: [String: Any] = ["name": name, "permissions": permissions]
                if let group { body["deviceGroup"] = group }
                if let expires, let seconds = DurationText.seconds(expires) {
                    body["expiresAt"] = ISO8601DateFormatter().string(from: Date().addingTimeInterval(seconds))
                }
                try await api.show(
                    .POST, "/api/v1/tenants/\(APIClient.segment(tenant))/api-keys", body: body, as: APIKeyResource.self,
                    to: output
                ) { key in
                    output.line("Created API key \(key.id) (\(key.name)).")
                    output.line("Key (shown once): \(key.key ?? "")")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's API keys.")
        @Option(help: "The tenant.") var tenant: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let keys: [APIKeyResource] = try await api.all("/api/v1/tenants/\(APIClient.segment(tenant))/api-keys")
                if output.isJSON { return try output.json(encoding: keys) }
                output.table(
                    ["ID", "NAME", "PERMISSIONS", "GROUP", "EXPIRES", "LAST USED", "STATE"],
                    keys.map {
                        [
                            $0.id, $0.name, $0.permissions.joined(separator: ","), $0.deviceGroup ?? "-",
                            $0.expiresAt.map { "\($0)" } ?? "never", $0.lastUsedAt.map { "\($0)" } ?? "never",
                            $0.revokedAt == nil ? "active" : "revoked",
                        ]
                    })
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an API key at once.")
        @Argument(help: "The key's id (key_…).") var id: String
        @Option(help: "The tenant.") var tenant: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                try await api.show(
                    .DELETE, "/api/v1/tenants/\(APIClient.segment(tenant))/api-keys/\(APIClient.segment(id))",
                    to: output
                ) {
                    output.line("Revoked API key \(id).")
                }
            }
        }
    }
}
