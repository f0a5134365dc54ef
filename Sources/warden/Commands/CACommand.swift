import ArgumentParser
import Foundation
import NIOHTTP1
import WardenAPI

/// `warden ca create|add|list|show|verification-code|verify|delete`: tenant CAs for `x509-ca` devices, ones
/// Warden creates and issues with, and ones the tenant runs.
struct CACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "Manage the CAs x509-ca devices chain to: ones Warden creates, or yours with proof of possession.",
        discussion: """
            A CA Warden holds the key of: warden ca create NAME, then warden cert issue --ca NAME (docs/pki.md).
            A CA you run:
            1. warden ca add NAME --certificate ca.pem
            2. warden ca verification-code NAME            (prints CODE)
            3. sign a certificate with CN=CODE using the CA's key
            4. warden ca verify NAME --certificate proof.pem
            Devices created with --auth x509-ca then connect with a certificate chaining to the CA, CN = device id.
            """,
        subcommands: [
            Create.self, Add.self, List.self, Show.self, VerificationCode.self, Verify.self, Revocation.self, CRL.self,
            Delete.self,
        ])

    /// The CA and tenant every command names.
    struct Target: ParsableArguments {
        @Argument(help: "The CA's name.") var name: String
        @Option(help: "The tenant (default: default).") var tenant = "default"

        var path: String { CACommand.base(tenant) + "/" + APIClient.segment(name) }
    }

    static func base(_ tenant: String) -> String {
        "/api/v1/tenants/\(APIClient.segment(tenant))/certificate-authorities"
    }

    static func read(_ file: String) throws -> String {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw CLIFailure("Cannot read \(file).", exitCode: CLIExitCode.notFound)
        }
        return text
    }

    static func show(_ authority: CertificateAuthorityResource, _ output: Output) {
        output.fields([
            ("name", authority.name), ("subject", authority.subject), ("thumbprint", authority.thumbprint),
            ("not valid after", "\(authority.notValidAfter)"), ("verified", authority.verified ? "yes" : "no"),
            ("issuing", authority.issuing ? "yes" : "no"),
            ("verification code", authority.verificationCode ?? "—"),
        ])
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Create an issuing CA: Warden makes its P-256 key, seals it, and signs device certificates with it.")
        @OptionGroup var target: Target
        @Option(name: .customLong("common-name"), help: "The CA's CN (default: its name).") var commonName: String?
        @Option(help: "Days the CA is valid (default: 3650).") var days = 3_650
        @OptionGroup var client: ClientOptions

        func run() async throws {
            var issuing: [String: Any] = ["days": days]
            issuing["commonName"] = commonName
            try await APIClient.run(client) { [issuing] api, output in
                let data = try await api.send(
                    .POST, CACommand.base(target.tenant), body: ["name": target.name, "issuing": issuing])
                if output.isJSON { return output.json(data) }
                CACommand.show(try api.decode(CertificateAuthorityResource.self, data), output)
                output.line("Next: warden cert issue --ca \(target.name) --csr device.csr --device DEVICE")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a CA certificate (unverified).")
        @OptionGroup var target: Target
        @Option(help: "The CA certificate, PEM.") var certificate: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let pem = try CACommand.read(certificate)
            try await APIClient.run(client) { api, output in
                let data = try await api.send(
                    .POST, CACommand.base(target.tenant), body: ["name": target.name, "certificate": pem])
                if output.isJSON { return output.json(data) }
                CACommand.show(try api.decode(CertificateAuthorityResource.self, data), output)
                output.line("Next: warden ca verification-code \(target.name)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's CAs.")
        @Option(help: "The tenant (default: default).") var tenant = "default"
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let data = try await api.send(.GET, CACommand.base(tenant))
                if output.isJSON { return output.json(data) }
                let authorities = try api.decode(ListResource<CertificateAuthorityResource>.self, data).items
                output.table(
                    ["NAME", "VERIFIED", "SUBJECT", "NOT VALID AFTER"],
                    authorities.map { [$0.name, $0.verified ? "yes" : "no", $0.subject, "\($0.notValidAfter)"] })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one CA, or print its certificate.")
        @OptionGroup var target: Target
        @Flag(help: "Print only the CA certificate, PEM (for devices to trust, or openssl).") var pem = false
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                if pem {
                    let data = try await api.send(.GET, target.path)
                    return output.text(try api.decode(CertificateAuthorityResource.self, data).certificate)
                }
                try await api.show(.GET, target.path, as: CertificateAuthorityResource.self, to: output) {
                    CACommand.show($0, output)
                }
            }
        }
    }

    struct VerificationCode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verification-code",
            abstract: "Issue the code to put as CN in a certificate the CA signs (replaces an earlier code).")
        @OptionGroup var target: Target
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let data = try await api.send(.POST, target.path + "/verification-code")
                if output.isJSON { return output.json(data) }
                output.line(try api.decode(CertificateAuthorityResource.self, data).verificationCode ?? "")
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prove possession: a certificate with CN = the verification code, signed by the CA.")
        @OptionGroup var target: Target
        @Option(help: "The proof certificate, PEM.") var certificate: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let pem = try CACommand.read(certificate)
            try await APIClient.run(client) { api, output in
                try await api.show(.POST, target.path + "/verify", body: ["certificate": pem], to: output) {
                    output.line("CA \(target.name) is verified; x509-ca devices chaining to it may connect.")
                }
            }
        }
    }

    struct Revocation: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "How revocation of an external CA's certificates is checked: its CRL, soft-fail or hard-fail.",
            discussion: """
                soft-fail: certificates the CRL lists are refused. hard-fail: also every certificate of the CA while
                there is no current CRL. With --crl-url Warden fetches the CRL every --refresh seconds; without,
                upload it with warden ca crl NAME --upload FILE. With --ocsp, each certificate is also asked of the
                OCSP responder it names when it connects: soft-fail refuses a revoked answer only; hard-fail also an
                unreachable responder or an unknown certificate, and no longer needs a CRL.
                """)
        @OptionGroup var target: Target
        @Option(help: "off, soft-fail or hard-fail.") var mode: String
        @Option(name: .customLong("crl-url"), help: "A CRL distribution point to fetch (http or https).")
        var crlURL: String?
        @Option(help: "Seconds between fetches (default: 3600).") var refresh = 3_600
        @Flag(help: "Also ask each certificate's OCSP responder when it connects.") var ocsp = false
        @OptionGroup var client: ClientOptions

        func run() async throws {
            var body: [String: Any] = ["mode": mode, "refreshSeconds": refresh, "ocsp": ocsp]
            body["crlUrl"] = crlURL
            try await APIClient.run(client) { [body] api, output in
                try await api.show(
                    .PUT, target.path + "/revocation", body: body, as: CertificateAuthorityResource.self, to: output
                ) { CACommand.show($0, output) }
            }
        }
    }

    struct CRL: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "crl", abstract: "Show an external CA's CRL in force, or upload a newer one (DER or PEM).")
        @OptionGroup var target: Target
        @Option(help: "A CRL file the CA signed, to put in force.") var upload: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let bytes = try upload.map(Output.contents(of:))
            try await APIClient.run(client) { api, output in
                let data: Data
                if let bytes {
                    data = try await api.send(
                        .PUT, target.path + "/crl", raw: bytes, contentType: "application/pkix-crl")
                } else {
                    data = try await api.send(.GET, target.path + "/crl")
                }
                if output.isJSON { return output.json(data) }
                let list = try api.decode(RevocationListResource.self, data)
                output.fields([
                    ("current", list.current ? "yes" : "no"), ("revoked", "\(list.revokedCount)"),
                    ("this update", list.thisUpdate.map { "\($0)" } ?? "—"),
                    ("next update", list.nextUpdate.map { "\($0)" } ?? "—"), ("number", list.number ?? "—"),
                    ("source", list.source ?? "—"), ("fetch error", list.fetchError ?? "—"),
                ])
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a CA.")
        @OptionGroup var target: Target
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                _ = try await api.send(.DELETE, target.path)
                if !output.isJSON { output.line("Removed CA \(target.name).") }
            }
        }
    }
}
