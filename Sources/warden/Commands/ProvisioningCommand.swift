import ArgumentParser
import Foundation
import NIOHTTP1
import WardenAPI

/// `warden dps show|group …|enrollment …`: zero-touch provisioning with the Azure device SDKs (DPS).
struct ProvisioningCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dps",
        abstract: "Let devices provision themselves with the Azure SDKs' ProvisioningDeviceClient (DPS over MQTT).",
        discussion: """
            warden dps show                              (the ID scope and the endpoint)
            warden dps group create fleet --json         (the group key: a device's key is HMAC-SHA256 of its
                                                          registration id under it, base64)
            warden dps enrollment create sensor-1 --json (one device with its own key)
            See docs/provisioning.md.
            """,
        subcommands: [Show.self, Group.self, Individual.self])

    static func base(_ tenant: String) -> String {
        "/api/v1/tenants/\(APIClient.segment(tenant))/provisioning"
    }

    static func show(_ enrollment: EnrollmentResource, _ output: Output) {
        output.fields(
            [
                ("name", enrollment.name ?? enrollment.registrationId ?? ""), ("attestation", enrollment.attestation),
                ("certificate authority", enrollment.certificateAuthority ?? "—"),
                ("thumbprint", enrollment.thumbprints?.primary ?? "—"),
                ("provisioning status", enrollment.provisioningStatus), ("device", enrollment.deviceId ?? "—"),
                ("tenants", enrollment.tenants?.joined(separator: ", ") ?? "this one"),
                ("allocation", enrollment.allocationPolicy), ("reprovision", enrollment.reprovisionPolicy),
            ]
                + (enrollment.customAllocationDefinition.map { [("webhook", $0.webhookUrl)] } ?? [])
                + (enrollment.symmetricKey.map { [("primary key", $0.primaryKey), ("secondary key", $0.secondaryKey)] }
                    ?? []))
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the tenant's ID scope and endpoint.")
        @Option(help: "The tenant (default: default).") var tenant = "default"
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                try await api.show(.GET, ProvisioningCommand.base(tenant), as: ProvisioningResource.self, to: output) {
                    output.fields([("ID scope", $0.idScope), ("endpoint", $0.endpoint)])
                }
            }
        }
    }

    /// What creating an enrollment takes, for a group or an individual device.
    struct Creation: ParsableArguments {
        @Option(help: "symmetric-key (keys made by the hub) or x509 (a group's --ca, an enrollment's --thumbprint).")
        var attestation = "symmetric-key"
        @Flag(help: "Create it disabled.") var disabled = false
        @OptionGroup var settings: Settings

        func body(_ fields: [String: Any]) throws -> [String: Any] {
            var body = try settings.body(fields)
            body["attestation"] = attestation
            body["provisioningStatus"] = disabled ? "disabled" : "enabled"
            return body
        }
    }

    /// What an enrollment's create or update may set: its initial twin, where registrations go, and what a
    /// device registering again gets.
    struct Settings: ParsableArguments {
        @Option(name: .customLong("initial-twin"), help: "A JSON file: the desired properties devices start with.")
        var initialTwin: String?
        @Option(
            name: .customLong("assign-to"),
            help: "A tenant its devices may be assigned to (repeat for several; default: this tenant).")
        var assignTo: [String] = []
        @Option(help: "static (one tenant), hashed (spread by registration id) or custom (--webhook decides).")
        var allocation: String?
        @Option(help: "custom: the allocation webhook's URL (DPS's AllocationRequest is POSTed to it).")
        var webhook: String?
        @Option(help: "migrate (default), reset or never: what a device that registers again gets.")
        var reprovision: String?

        func body(_ fields: [String: Any]) throws -> [String: Any] {
            var body = fields
            if let initialTwin {
                guard let data = FileManager.default.contents(atPath: initialTwin),
                    let desired = try? JSONSerialization.jsonObject(with: data)
                else { throw CLIFailure("Cannot read \(initialTwin) as JSON.", exitCode: CLIExitCode.notFound) }
                body["initialTwin"] = ["desired": desired]
            }
            if !assignTo.isEmpty { body["tenants"] = assignTo }
            body["allocationPolicy"] = allocation
            body["customAllocationDefinition"] = webhook.map { ["webhookUrl": $0] }
            body["reprovisionPolicy"] = reprovision
            return body
        }
    }

    struct Group: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "group", abstract: "Enrollment groups: devices sharing a group key.",
            subcommands: [
                Create.self, ListEnrollments<Groups>.self, EnrollmentVerb<Groups, ShowVerb>.self,
                UpdateEnrollment<Groups>.self, EnrollmentVerb<Groups, EnableVerb>.self,
                EnrollmentVerb<Groups, DisableVerb>.self,
                EnrollmentVerb<Groups, DeleteVerb>.self,
            ])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a group (its keys are printed).")
            @Argument(help: "The group's name.") var name: String
            @Option(name: .customLong("ca"), help: "x509: the tenant's verified CA its devices' certificates chain to.")
            var certificateAuthority: String?
            @OptionGroup var creation: Creation
            @Option(help: "The tenant (default: default).") var tenant = "default"
            @OptionGroup var client: ClientOptions

            func run() async throws {
                var fields: [String: Any] = ["name": name]
                fields["certificateAuthority"] = certificateAuthority
                let body = try creation.body(fields)
                try await APIClient.run(client) { api, output in
                    try await api.show(
                        .POST, ProvisioningCommand.base(tenant) + "/groups", body: body, as: EnrollmentResource.self,
                        to: output
                    ) { ProvisioningCommand.show($0, output) }
                }
            }
        }

    }

    struct Individual: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "enrollment", abstract: "Individual enrollments: one device, by registration id.",
            subcommands: [
                Create.self, ListEnrollments<Individuals>.self, EnrollmentVerb<Individuals, ShowVerb>.self,
                UpdateEnrollment<Individuals>.self, EnrollmentVerb<Individuals, EnableVerb>.self,
                EnrollmentVerb<Individuals, DisableVerb>.self,
                EnrollmentVerb<Individuals, DeleteVerb>.self,
            ])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create an enrollment (its keys are printed).")
            @Argument(help: "The registration id.") var registrationID: String
            @Option(name: .customLong("device-id"), help: "The device id, when not the registration id.")
            var deviceID: String?
            @Option(help: "x509: the device certificate's SHA-256 (or SHA-1) thumbprint.") var thumbprint: String?
            @Option(name: .customLong("secondary-thumbprint"), help: "x509: a second certificate's thumbprint.")
            var secondaryThumbprint: String?
            @OptionGroup var creation: Creation
            @Option(help: "The tenant (default: default).") var tenant = "default"
            @OptionGroup var client: ClientOptions

            func run() async throws {
                var fields: [String: Any] = ["registrationId": registrationID]
                fields["deviceId"] = deviceID
                if let thumbprint {
                    var thumbprints = ["primary": thumbprint]
                    thumbprints["secondary"] = secondaryThumbprint
                    fields["thumbprints"] = thumbprints
                }
                let body = try creation.body(fields)
                try await APIClient.run(client) { api, output in
                    try await api.show(
                        .POST, ProvisioningCommand.base(tenant) + "/enrollments", body: body,
                        as: EnrollmentResource.self, to: output
                    ) { ProvisioningCommand.show($0, output) }
                }
            }
        }

    }

}

/// Enrollment groups or individual enrollments: the same verbs on two collections.
protocol EnrollmentCollection {
    static var collection: String { get }
    static var what: String { get }
}

enum Groups: EnrollmentCollection {
    static let collection = "groups"
    static let what = "group"
}

enum Individuals: EnrollmentCollection {
    static let collection = "enrollments"
    static let what = "individual enrollment"
}

/// `list`.
struct ListEnrollments<Collection: EnrollmentCollection>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "list", abstract: "List the tenant's \(Collection.what)s.")
    }
    @Option(help: "The tenant (default: default).") var tenant = "default"
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await APIClient.run(client) { api, output in
            let data = try await api.send(.GET, ProvisioningCommand.base(tenant) + "/" + Collection.collection)
            if output.isJSON { return output.json(data) }
            let items = try api.decode(ListResource<EnrollmentResource>.self, data).items
            output.table(
                ["NAME", "STATUS", "DEVICE"],
                items.map { [$0.name ?? $0.registrationId ?? "", $0.provisioningStatus, $0.deviceId ?? "—"] })
        }
    }
}

/// What a verb on one enrollment does.
protocol EnrollmentAction {
    static var name: String { get }
    static var abstract: String { get }
    static func perform(_ api: APIClient, _ output: Output, _ member: String, _ name: String) async throws
}

enum ShowVerb: EnrollmentAction {
    static let name = "show"
    static let abstract = "Show one, with its keys."
    static func perform(_ api: APIClient, _ output: Output, _ member: String, _ name: String) async throws {
        try await api.show(.GET, member, as: EnrollmentResource.self, to: output) {
            ProvisioningCommand.show($0, output)
        }
    }
}

enum EnableVerb: EnrollmentAction {
    static let name = "enable"
    static let abstract = "Let it provision devices again."
    static func perform(_ api: APIClient, _ output: Output, _ member: String, _ name: String) async throws {
        try await setStatus("enabled", api, output, member)
    }
}

enum DisableVerb: EnrollmentAction {
    static let name = "disable"
    static let abstract = "Refuse its registrations (devices already provisioned keep their keys)."
    static func perform(_ api: APIClient, _ output: Output, _ member: String, _ name: String) async throws {
        try await setStatus("disabled", api, output, member)
    }
}

/// PATCHes an enrollment's `provisioningStatus` and shows the result.
private func setStatus(_ status: String, _ api: APIClient, _ output: Output, _ member: String) async throws {
    try await api.show(.PATCH, member, body: ["provisioningStatus": status], as: EnrollmentResource.self, to: output) {
        ProvisioningCommand.show($0, output)
    }
}

enum DeleteVerb: EnrollmentAction {
    static let name = "delete"
    static let abstract = "Delete it."
    static func perform(_ api: APIClient, _ output: Output, _ member: String, _ name: String) async throws {
        _ = try await api.send(.DELETE, member)
        if !output.isJSON { output.line("Deleted \(name).") }
    }
}

/// `update NAME [--assign-to T …] [--allocation …] [--webhook URL] [--reprovision …] [--initial-twin FILE]`.
struct UpdateEnrollment<Collection: EnrollmentCollection>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "update",
            abstract: "Change its initial twin, the tenants its devices go to, its allocation or reprovisioning.")
    }
    @Argument(help: "The group's name or the registration id.") var name: String
    @OptionGroup var settings: ProvisioningCommand.Settings
    @Option(help: "The tenant (default: default).") var tenant = "default"
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let body = try settings.body([:])
        guard !body.isEmpty else { throw ValidationError("Say what to change.") }
        let member = ProvisioningCommand.base(tenant) + "/" + Collection.collection + "/" + APIClient.segment(name)
        try await APIClient.run(client) { api, output in
            try await api.show(.PATCH, member, body: body, as: EnrollmentResource.self, to: output) {
                ProvisioningCommand.show($0, output)
            }
        }
    }
}

/// `show|enable|disable|delete NAME`.
struct EnrollmentVerb<Collection: EnrollmentCollection, Action: EnrollmentAction>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: Action.name, abstract: Action.abstract)
    }
    @Argument(help: "The group's name or the registration id.") var name: String
    @Option(help: "The tenant (default: default).") var tenant = "default"
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let member = ProvisioningCommand.base(tenant) + "/" + Collection.collection + "/" + APIClient.segment(name)
        try await APIClient.run(client) { api, output in try await Action.perform(api, output, member, name) }
    }
}
