import ArgumentParser
import Foundation
import NIOHTTP1
import WardenAPI

/// `warden tenant create|list`.
struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Manage tenants.", subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant.")
        @Argument(help: "The tenant id: lower-case letters, digits and '-'.") var id: String
        @Option(help: "The host name its devices use (default: ID.HUB-HOSTNAME).") var hostName: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                var body: [String: Any] = ["tenantId": id]
                if let hostName { body["hostName"] = hostName }
                try await api.show(.POST, "/api/v1/tenants", body: body, as: TenantResource.self, to: output) {
                    tenant in
                    output.line("Created tenant \(tenant.tenantID) (host name \(tenant.hostName)).")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let tenants: [TenantResource] = try await api.all("/api/v1/tenants")
                if output.isJSON { return try output.json(encoding: tenants) }
                output.table(
                    ["TENANT", "HOST NAME", "CREATED"], tenants.map { [$0.tenantID, $0.hostName, "\($0.createdAt)"] })
            }
        }
    }
}

extension APIClient {
    /// Follows `nextCursor` through every page.
    func all<Item: Codable & Sendable>(_ path: String) async throws -> [Item] {
        var items: [Item] = []
        var cursor: String?
        repeat {
            let query =
                (path.contains("?") ? "&" : "?")
                + (cursor.map { "limit=1000&cursor=\(APIClient.segment($0))" } ?? "limit=1000")
            let page = try decode(ListResource<Item>.self, try await send(.GET, path + query))
            items += page.items
            cursor = page.nextCursor
        } while cursor != nil
        return items
    }
}
