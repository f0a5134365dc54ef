import ArgumentParser

/// The `warden` command: `serve` runs the hub; every other command is a client of its management API.
@main
struct Warden: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "warden",
        abstract: "A self-hosted, security-first IoT device hub.",
        discussion: """
            Exit codes: 0 success, 1 unexpected failure, 64 bad usage, 65 invalid input, 66 not found,
            67 conflict (exists, not empty, etag mismatch), 69 server not reachable, 70 server error,
            77 missing or rejected credential, 78 bad configuration.
            """,
        version: version,
        subcommands: [
            ServeCommand.self, TenantCommand.self, DeviceCommand.self, TokenCommand.self, CACommand.self,
            CertificateCommand.self, ProvisioningCommand.self,
            TelemetryCommand.self, CloudToDeviceCommand.self, TwinCommand.self, MethodCommand.self,
            LoginCommand.self, LogoutCommand.self, UserCommand.self, RoleCommand.self, APIKeyCommand.self,
            AuditCommand.self, PolicyCommand.self, KeysCommand.self, BanCommand.self, DefenderCommand.self,
            BackupCommand.self,
        ]
    )
}
