import ArgumentParser
import Foundation
import NIOHTTP1
import WardenAPI

/// `warden user …`: people who sign in.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage users.",
        subcommands: [Create.self, List.self, Show.self, Enable.self, Disable.self, Delete.self, Password.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user.",
            discussion:
                "Without --password-stdin a one-time password is generated and printed once; the user must change it.")
        @Argument(help: "The username: letters, digits and '- . _ @'.") var name: String
        @Option(help: "The tenant the role applies in.") var tenant: String?
        @Option(help: "owner, admin, operator, monitor or auditor.") var role: String?
        @Flag(help: "Make the user a platform administrator (every tenant).") var platformAdmin = false
        @Flag(help: "Read the password from the first line of standard input.") var passwordStdin = false
        @OptionGroup var client: ClientOptions

        func validate() throws {
            guard (tenant == nil) == (role == nil) else { throw ValidationError("Give --tenant and --role together.") }
            guard tenant != nil || platformAdmin else {
                throw ValidationError("Give --tenant and --role, or --platform-admin.")
            }
        }

        func run() async throws {
            try await APIClient.run(client) { api, output in
                var body: [String: Any] = ["username": name, "platformAdmin": platformAdmin]
                if let tenant, let role { body["roles"] = [tenant: role] }
                if passwordStdin { body["password"] = try Prompt.standardInputLine() }
                try await api.show(.POST, "/api/v1/users", body: body, as: UserResource.self, to: output) { user in
                    output.line("Created user \(user.username).")
                    if let password = user.password {
                        output.line(
                            "One-time password (shown once; it must be changed at the first sign-in): \(password)")
                    }
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users you manage.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let users: [UserResource] = try await api.all("/api/v1/users")
                if output.isJSON { return try output.json(encoding: users) }
                output.table(
                    ["USER", "ENABLED", "PLATFORM", "ROLES", "TOTP"],
                    users.map {
                        [
                            $0.username, "\($0.enabled)", $0.platformAdmin ? "admin" : "-", UserCommand.roles($0.roles),
                            $0.totpEnabled ? "on" : "off",
                        ]
                    })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a user.")
        @Argument var name: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                try await api.show(.GET, "/api/v1/users/\(APIClient.segment(name))", as: UserResource.self, to: output)
                { user in
                    output.fields([
                        ("User", user.username), ("Id", user.id), ("Enabled", "\(user.enabled)"),
                        ("Platform admin", "\(user.platformAdmin)"), ("Roles", UserCommand.roles(user.roles)),
                        ("TOTP", user.totpEnabled ? "on" : "off"), ("Created", "\(user.createdAt)"),
                    ])
                }
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a disabled user sign in again.")
        @Argument var name: String
        @OptionGroup var client: ClientOptions
        func run() async throws { try await UserCommand.setEnabled(name, true, client) }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a user at once (its sessions end).")
        @Argument var name: String
        @OptionGroup var client: ClientOptions
        func run() async throws { try await UserCommand.setEnabled(name, false, client) }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user.")
        @Argument var name: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                _ = try await api.send(.DELETE, "/api/v1/users/\(APIClient.segment(name))")
                output.line("Deleted user \(name).")
            }
        }
    }

    struct Password: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change your own password (your other sessions end; sign in again).")
        @Flag(help: "Read the current and the new password from the first two lines of standard input.")
        var passwordStdin = false
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let current = try passwordStdin ? Prompt.standardInputLine() : Prompt.secret("Current password: ")
                let new = try passwordStdin ? Prompt.standardInputLine() : Prompt.secret("New password: ")
                _ = try await api.send(
                    .POST, "/api/v1/auth/password", body: ["currentPassword": current, "newPassword": new])
                output.line("Password changed; sign in again with 'warden login'.")
            }
        }
    }

    static func setEnabled(_ name: String, _ enabled: Bool, _ client: ClientOptions) async throws {
        try await APIClient.run(client) { api, output in
            try await api.show(
                .PATCH, "/api/v1/users/\(APIClient.segment(name))", body: ["enabled": enabled], to: output
            ) {
                output.line("\(enabled ? "Enabled" : "Disabled") user \(name).")
            }
        }
    }

    static func roles(_ roles: [String: String]) -> String {
        roles.isEmpty ? "-" : roles.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}

/// `warden role …`: who holds which role in a tenant.
struct RoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "role", abstract: "Grant and remove roles in a tenant.",
        discussion: """
            Roles: owner (everything in the tenant), admin (everything but granting owner), operator (control: send
            cloud-to-device messages, invoke methods, disable devices; and monitoring), monitor (read devices,
            telemetry, twins), auditor (read the audit log).
            """,
        subcommands: [Set.self, Remove.self, List.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Give a user (username) or service principal (client id) a role.")
        @Argument(help: "A username or a service principal's client id (sp_…).") var subject: String
        @Argument(help: "owner, admin, operator, monitor or auditor.") var role: String
        @Option(help: "The tenant.") var tenant: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                try await api.show(
                    .PUT, "/api/v1/tenants/\(APIClient.segment(tenant))/roles/\(APIClient.segment(subject))",
                    body: ["role": role], to: output
                ) {
                    output.line("\(subject) is \(role) in \(tenant).")
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a role away.")
        @Argument var subject: String
        @Option(help: "The tenant.") var tenant: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                _ = try await api.send(
                    .DELETE, "/api/v1/tenants/\(APIClient.segment(tenant))/roles/\(APIClient.segment(subject))")
                output.line("\(subject) has no role in \(tenant) now.")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Who holds which role in a tenant.")
        @Option(help: "The tenant.") var tenant: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let bindings: [RoleBindingResource] = try await api.all(
                    "/api/v1/tenants/\(APIClient.segment(tenant))/roles")
                if output.isJSON { return try output.json(encoding: bindings) }
                output.table(["SUBJECT", "KIND", "ROLE"], bindings.map { [$0.subject, $0.kind, $0.role] })
            }
        }
    }
}
