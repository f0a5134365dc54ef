import ArgumentParser
import Foundation
import NIOHTTP1
import WardenAPI
import WardenCore

/// `warden cert issue|renew|revoke|list|show`: device certificates the tenant's issuing CAs sign.
struct CertificateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Issue, renew, revoke and list device certificates signed by the tenant's issuing CAs.",
        discussion: """
            openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dev.key \\
                -subj /CN=DEVICE -out dev.csr
            warden cert issue --ca NAME --csr dev.csr --device DEVICE > dev.pem
            warden cert revoke SERIAL --reason keyCompromise
            """,
        subcommands: [Issue.self, Renew.self, Revoke.self, List.self, Show.self])

    static func base(_ tenant: String) -> String {
        "/api/v1/tenants/\(APIClient.segment(tenant))/certificates"
    }

    static func show(_ certificate: IssuedCertificateResource, _ output: Output) {
        output.fields([
            ("serial", certificate.serial), ("device", certificate.deviceId), ("ca", certificate.certificateAuthority),
            ("status", certificate.status), ("not valid before", "\(certificate.notValidBefore)"),
            ("not valid after", "\(certificate.notValidAfter)"), ("issued by", certificate.issuedBy),
            ("renewed from", certificate.renewedFrom ?? "—"),
            ("revoked", certificate.revocation.map { "\($0.at) (\($0.reason))" } ?? "—"),
            ("thumbprint", certificate.thumbprint),
        ])
    }

    /// `--days`, sent only when given.
    static func body(_ fields: [String: Any], days: Int?) -> [String: Any] {
        var body = fields
        body["days"] = days
        return body
    }

    /// Prints the new certificate's PEM (its serial on stderr), or the whole resource with `--json`.
    static func printIssued(_ data: Data, _ api: APIClient, _ output: Output) throws {
        if output.isJSON { return output.json(data) }
        let issued = try api.decode(IssuedCertificateResource.self, data)
        output.text(issued.certificate)
        Output.write(Data("serial \(issued.serial), valid until \(issued.notValidAfter)\n".utf8), to: .standardError)
    }

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign a CSR: prints the PEM certificate (CN = the device id, client authentication).")
        @Option(name: .customLong("ca"), help: "The issuing CA.") var authority: String
        @Option(help: "The certificate signing request, PEM.") var csr: String
        @Option(help: "The device the certificate names.") var device: String
        @Option(help: "Days it is valid (default: the server's pki.default-days).") var days: Int?
        @Option(help: "The tenant (default: default).") var tenant = "default"
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let body = CertificateCommand.body(
                ["certificateAuthority": authority, "deviceId": device, "csr": try CACommand.read(csr)], days: days)
            try await APIClient.run(client) { api, output in
                try CertificateCommand.printIssued(
                    try await api.send(.POST, CertificateCommand.base(tenant), body: body), api, output)
            }
        }
    }

    struct Renew: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A new certificate for the same device and CA; the old one stays valid until it expires.")
        @Argument(help: "The serial of the certificate to renew (hex).") var serial: String
        @Option(help: "The new certificate signing request, PEM.") var csr: String
        @Option(help: "Days it is valid (default: the server's pki.default-days).") var days: Int?
        @Option(help: "The tenant (default: default).") var tenant = "default"
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let body = CertificateCommand.body(["csr": try CACommand.read(csr)], days: days)
            let path = CertificateCommand.base(tenant) + "/" + APIClient.segment(serial) + "/renew"
            try await APIClient.run(client) { api, output in
                try CertificateCommand.printIssued(try await api.send(.POST, path, body: body), api, output)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a certificate: connections that presented it close, CRL and OCSP list it.")
        @Argument(help: "The serial (hex).") var serial: String
        @Option(
            help: ArgumentHelp(
                "Why: \(RevocationReason.allCases.map(\.rawValue).joined(separator: ", ")).",
                valueName: "reason"))
        var reason = RevocationReason.unspecified.rawValue
        @Option(help: "The tenant (default: default).") var tenant = "default"
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let path = CertificateCommand.base(tenant) + "/" + APIClient.segment(serial) + "/revoke"
            try await APIClient.run(client) { api, output in
                try await api.show(.POST, path, body: ["reason": reason], to: output) {
                    output.line("Revoked certificate \(serial) (\(reason)).")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List issued certificates with status and expiry.")
        @Option(help: "Only this device's.") var device: String?
        @Option(name: .customLong("ca"), help: "Only what this CA issued.") var authority: String?
        @Option(help: "Only valid, expired or revoked ones.") var status: String?
        @Option(name: .customLong("expiring-within-days"), help: "Only valid ones expiring within this many days.")
        var expiringWithinDays: Int?
        @Option(help: "The tenant (default: default).") var tenant = "default"
        @OptionGroup var client: ClientOptions

        func run() async throws {
            var query: [(String, String)] = []
            if let device { query.append(("device", device)) }
            if let authority { query.append(("ca", authority)) }
            if let status { query.append(("status", status)) }
            if let expiringWithinDays { query.append(("expiring-within-days", "\(expiringWithinDays)")) }
            let filter = query.map { "\($0)=\(APIClient.segment($1))" }.joined(separator: "&")
            let path = CertificateCommand.base(tenant) + (filter.isEmpty ? "" : "?" + filter)
            try await APIClient.run(client) { api, output in
                let certificates: [IssuedCertificateResource] = try await api.all(path)
                if output.isJSON { return try output.json(encoding: certificates) }
                output.table(
                    ["SERIAL", "DEVICE", "CA", "STATUS", "NOT VALID AFTER"],
                    certificates.map {
                        [$0.serial, $0.deviceId, $0.certificateAuthority, $0.status, "\($0.notValidAfter)"]
                    })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one certificate, or print it.")
        @Argument(help: "The serial (hex).") var serial: String
        @Flag(help: "Print only the certificate, PEM.") var pem = false
        @Option(help: "The tenant (default: default).") var tenant = "default"
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let path = CertificateCommand.base(tenant) + "/" + APIClient.segment(serial)
            try await APIClient.run(client) { api, output in
                if pem {
                    let data = try await api.send(.GET, path)
                    return output.text(try api.decode(IssuedCertificateResource.self, data).certificate)
                }
                try await api.show(.GET, path, as: IssuedCertificateResource.self, to: output) {
                    CertificateCommand.show($0, output)
                }
            }
        }
    }
}
