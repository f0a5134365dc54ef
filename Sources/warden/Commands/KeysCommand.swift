import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import WardenCore

/// `warden keys …`: the master key that seals every secret at rest.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Show or rotate the master key that seals the secrets at rest.",
        subcommands: [Show.self, RotateMaster.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The master key's identifier (never the key), where it is kept, and whether a rotation runs.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                try await api.show(.GET, "/api/v1/master-key", as: MasterKeyStatus.self, to: output) { status in
                    output.line(
                        "Master key \(status.keyID), kept in \(Self.place(status.source))"
                            + (status.rotating ? "; a rotation is under way." : "."))
                }
            }
        }

        static func place(_ source: String) -> String {
            switch source {
            case "hsm": "the HSM (master.key.wrapped)"
            case "environment": "WARDEN_MASTER_KEY"
            default: "master.key"
            }
        }
    }

    struct RotateMaster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-master",
            abstract: "Seal every secret again under a new master key while the hub runs.",
            discussion: """
                The new key replaces master.key (or master.key.wrapped with an HSM) once every sealed value in \
                the store and the data directory is under it; a crash at any point leaves a directory that \
                starts, and the next start finishes the rotation. Back up the new key file afterwards: the old \
                one no longer opens anything. Keys from WARDEN_MASTER_KEY cannot be rotated this way (exit 67).
                """)
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let data = try await api.send(.POST, "/api/v1/master-key/rotate", timeout: .minutes(30))
                if output.isJSON { return output.json(data) }
                let report = try api.decode(MasterKeyRotationReport.self, data)
                let count = report.resealed.values.reduce(0, +)
                output.line(
                    "Rotated the master key \(report.previousKeyID) → \(report.keyID): \(count) sealed values "
                        + "sealed again. Back up the new master key file now.")
                for (place, resealed) in report.resealed.sorted(by: { $0.key < $1.key }) {
                    output.line("  \(place): \(resealed)")
                }
            }
        }
    }
}
