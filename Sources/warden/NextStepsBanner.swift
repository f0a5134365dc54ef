import WardenCore
import WardenServer

/// The block `warden serve` prints once it listens: where it is, the credential on first start, what to do next.
enum NextStepsBanner {
    static func text(_ report: WardenServer.StartupReport, version: String) -> String {
        var lines = ["Warden \(version) is listening on \(report.url) (data directory: \(report.dataDirectory))"]
        lines += report.mqttURLs.map { "MQTT: \($0)" }
        if let amqp = report.amqpURL { lines.append("AMQP: \(amqp)") }
        lines.append("")
        if let credential = report.newAdminCredential {
            lines += [
                "Bootstrap admin credential (shown once; the CLI reads it from \(report.adminCredentialPath), mode 0600):",
                "  " + String(decoding: credential.bytes, as: UTF8.self), "",
            ]
        }
        lines += [
            "Web portal: \(report.url)/ (platform administrator 'admin'; its first password is in "
                + "\(report.adminPasswordPath), mode 0600, and must be changed at the first sign-in)", "",
        ]
        if let ca = report.caCertificatePath {
            lines += ["Clients trust the development CA: \(ca)", ""]
        }
        lines += [
            "Next steps, in another terminal in this folder:",
            "  warden device create my-device",
            "  warden device connection-string my-device",
            "  warden token my-device --ttl 1h",
            "  warden user create ada --tenant default --role operator",
        ]
        return lines.joined(separator: "\n")
    }
}
