import ArgumentParser
import Foundation
import NIOHTTP1
import WardenCore
import WardenServer

/// `warden backup create|restore` (docs/defender.md, "Backup and restore").
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up a running hub into one encrypted file; restore it into a new data directory.",
        subcommands: [Create.self, Restore.self])

    /// A passphrase from a file's first line, or `WARDEN_BACKUP_PASSPHRASE`.
    static func passphrase(_ file: String?) throws -> SecretBytes? {
        if let file {
            let text = String(decoding: try Output.contents(of: file), as: UTF8.self)
            return SecretBytes(Array((text.split(whereSeparator: \.isNewline).first.map(String.init) ?? "").utf8))
        }
        return ProcessInfo.processInfo.environment["WARDEN_BACKUP_PASSPHRASE"].map { SecretBytes(Array($0.utf8)) }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Back up the running hub, online and consistent: the database and what its data directory needs, sealed under a key derived from the master key (or from a passphrase, and then with the master key inside)."
        )
        @Argument(help: "The backup file to write (mode 0600).") var file: String
        @Option(
            help: "A file whose first line is the passphrase (or WARDEN_BACKUP_PASSPHRASE); at least 12 characters.")
        var passphraseFile: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let passphrase = try BackupCommand.passphrase(passphraseFile)
            var body: [String: Any] = [:]
            if let passphrase { body["passphrase"] = String(decoding: passphrase.bytes, as: UTF8.self) }
            try await APIClient.run(client) { [body] api, output in
                let bytes = try await api.download(.POST, "/api/v1/backup", body: body, to: file)
                if output.isJSON { return try output.json(encoding: ["file": file, "bytes": String(bytes)]) }
                output.line(
                    "Wrote \(file) (\(bytes) bytes), sealed "
                        + (passphrase == nil
                            ? "under a key derived from this hub's master key: keep master.key apart from it."
                            : "with the passphrase."))
            }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup into a new data directory (no server may run on it); then start the hub on it.")
        @Argument(help: "The backup file.") var file: String
        @Option(help: "The new data directory (must not exist, or be empty).") var dataDir: String
        @Option(help: "A file whose first line is the backup's passphrase (or WARDEN_BACKUP_PASSPHRASE).")
        var passphraseFile: String?
        @Option(help: "The master key a master-key backup is sealed under (a master.key file; or WARDEN_MASTER_KEY).")
        var masterKeyFile: String?

        func run() async throws {
            let masterKey =
                try masterKeyFile.map { String(decoding: try Output.contents(of: $0), as: UTF8.self) }
                ?? ProcessInfo.processInfo.environment["WARDEN_MASTER_KEY"]
            do {
                let written = try WardenServer.restoreBackup(
                    file, into: dataDir, passphrase: try BackupCommand.passphrase(passphraseFile), masterKey: masterKey)
                Output(isJSON: false).line(
                    "Restored \(written.count) files into \(dataDir). Start it: warden serve --data-dir \(dataDir)")
            } catch let error as WardenError {
                Output.error("\(error.reason) [\(error.code)]")
                throw CLIExitCode.code(for: error.code.kind)
            }
        }
    }
}
