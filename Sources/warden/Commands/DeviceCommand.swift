import ArgumentParser
import Foundation
import NIOHTTP1
import WardenAPI

/// `warden device …`: the device registry.
struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device", abstract: "Manage devices.",
        subcommands: [
            Create.self, List.self, Show.self, Update.self, Enable.self, Disable.self, Disconnect.self, Delete.self,
            RotateKey.self, ConnectionString.self,
        ])

    /// The device and tenant every device command names.
    struct Target: ParsableArguments {
        @Argument(help: "The device id.") var id: String
        @Option(help: "The tenant (default: default).") var tenant = "default"

        var path: String { "/api/v1/tenants/\(APIClient.segment(tenant))/devices/\(APIClient.segment(id))" }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a device; SAS devices get two new keys.")
        @OptionGroup var target: Target
        @Option(help: "sas, x509-thumbprint or x509-ca.") var auth = "sas"
        @Option(help: "The primary certificate thumbprint (hex SHA-256 or SHA-1).") var thumbprint: String?
        @Option(help: "The secondary certificate thumbprint.") var secondaryThumbprint: String?
        @Option(name: .customLong("attribute"), help: "An attribute for policies, key=value; repeatable.")
        var attributes: [String] = []
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let attributes = try DeviceCommand.attributes(self.attributes)
            try await APIClient.run(client) { api, output in
                var body: [String: Any] = ["deviceId": target.id, "authentication": auth]
                if !attributes.isEmpty { body["attributes"] = attributes }
                if let thumbprint { body["primaryThumbprint"] = thumbprint }
                if let secondaryThumbprint { body["secondaryThumbprint"] = secondaryThumbprint }
                try await api.show(
                    .POST, "/api/v1/tenants/\(APIClient.segment(target.tenant))/devices", body: body,
                    as: DeviceResource.self, to: output
                ) { device in
                    output.line(
                        "Created device \(device.deviceID) in tenant \(device.tenantID) (\(device.authentication.type))."
                    )
                    if device.authentication.type == "sas" {
                        output.line(
                            "Next: warden device connection-string \(device.deviceID)" + tenantFlag(device.tenantID))
                    }
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's devices.")
        @Option(help: "The tenant (default: default).") var tenant = "default"
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let devices: [DeviceResource] = try await api.all(
                    "/api/v1/tenants/\(APIClient.segment(tenant))/devices")
                if output.isJSON { return try output.json(encoding: devices) }
                output.table(
                    ["DEVICE", "STATUS", "AUTH", "REASON"],
                    devices.map { [$0.deviceID, $0.status, $0.authentication.type, $0.statusReason ?? ""] })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a device (without keys).")
        @OptionGroup var target: Target
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                try await api.show(.GET, target.path, as: DeviceResource.self, to: output) {
                    DeviceCommand.describe($0, output)
                }
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set or remove a device's attributes (what policies match on); the others stay.")
        @OptionGroup var target: Target
        @Option(name: .customLong("attribute"), help: "Set an attribute, key=value; repeatable.")
        var attributes: [String] = []
        @Option(name: .customLong("remove-attribute"), help: "Remove an attribute by key; repeatable.")
        var removals: [String] = []
        @OptionGroup var client: ClientOptions

        func validate() throws {
            guard !attributes.isEmpty || !removals.isEmpty else {
                throw ValidationError("Name at least one --attribute key=value or --remove-attribute key.")
            }
        }

        func run() async throws {
            let changes = try DeviceCommand.attributes(attributes)
            try await APIClient.run(client) { api, output in
                // Read, change, write with the etag read: a change made meanwhile is not overwritten.
                let current = try api.decode(DeviceResource.self, try await api.send(.GET, target.path))
                var merged = current.attributes.merging(changes) { _, new in new }
                for key in removals { merged[key] = nil }
                try await api.show(
                    .PATCH, target.path, body: ["attributes": merged], ifMatch: current.etag, as: DeviceResource.self,
                    to: output
                ) { DeviceCommand.describe($0, output) }
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a device connect again.")
        @OptionGroup var target: Target
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await DeviceCommand.patch(target, client, ["status": "enabled", "statusReason": NSNull()])
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a device from connecting.")
        @OptionGroup var target: Target
        @Option(help: "Why (at most 128 characters).") var reason: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await DeviceCommand.patch(target, client, ["status": "disabled", "statusReason": reason ?? NSNull()])
        }
    }

    struct Disconnect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Close a device's live connections (it may connect again; disable or ban it to keep it out).")
        @OptionGroup var target: Target
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                _ = try await api.send(.POST, target.path + "/disconnect")
                if output.isJSON { return output.json(Data("{}".utf8)) }
                output.line("Closing the live connections of \(target.id).")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a device.")
        @OptionGroup var target: Target
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                _ = try await api.send(.DELETE, target.path)
                if output.isJSON { return output.json(Data("{}".utf8)) }
                output.line("Deleted device \(target.id).")
            }
        }
    }

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-key", abstract: "Regenerate a SAS key, or swap primary and secondary.")
        @OptionGroup var target: Target
        @Option(help: "primary, secondary or swap.") var key = "primary"
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                try await api.show(.POST, target.path + "/keys/rotate", body: ["key": key], to: output) {
                    output.line("Rotated the \(key) key of \(target.id); connections using the old key must reconnect.")
                }
            }
        }
    }

    struct ConnectionString: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "connection-string", abstract: "Print the device's connection string (primary key).")
        @OptionGroup var target: Target
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let data = try await api.send(.GET, target.path + "/connection-string")
                if output.isJSON { return output.json(data) }
                output.line(try api.decode(ConnectionStringResource.self, data).connectionString)
            }
        }
    }

    static func patch(_ target: Target, _ client: ClientOptions, _ body: [String: Any]) async throws {
        try await APIClient.run(client) { api, output in
            try await api.show(.PATCH, target.path, body: body, as: DeviceResource.self, to: output) { device in
                output.line("Device \(device.deviceID) is \(device.status).")
            }
        }
    }

    /// `key=value` arguments as a map; a pair without `=` is refused before anything is sent.
    static func attributes(_ pairs: [String]) throws -> [String: String] {
        var attributes: [String: String] = [:]
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ValidationError("An attribute is key=value, not '\(pair)'.")
            }
            attributes[String(parts[0])] = String(parts[1])
        }
        return attributes
    }

    static func describe(_ device: DeviceResource, _ output: Output) {
        var fields = [
            ("device", device.deviceID), ("tenant", device.tenantID), ("status", device.status),
            ("reason", device.statusReason ?? ""), ("authentication", device.authentication.type),
            ("generation", device.generationID), ("etag", device.etag), ("created", "\(device.createdAt)"),
        ]
        if let primary = device.authentication.primaryThumbprint { fields.append(("primary thumbprint", primary)) }
        if let secondary = device.authentication.secondaryThumbprint {
            fields.append(("secondary thumbprint", secondary))
        }
        for (key, value) in device.attributes.sorted(by: { $0.key < $1.key }) {
            fields.append(("attribute \(key)", value))
        }
        output.fields(fields)
    }
}

private func tenantFlag(_ tenant: String) -> String {
    tenant == "default" ? "" : " --tenant \(tenant)"
}
