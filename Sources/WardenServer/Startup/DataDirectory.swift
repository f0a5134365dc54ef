import Foundation
import WardenCore

/// The files of a data directory and how they are created: the directory itself is 0700 and every file
/// holding a secret is 0600.
struct DataDirectory: Sendable {
    let path: String

    var database: String { "\(path)/warden.sqlite" }
    var masterKey: String { "\(path)/master.key" }
    /// The master key wrapped by an HSM's key (`hsm.*`), instead of `master.key`.
    var wrappedMasterKey: String { "\(path)/master.key.wrapped" }
    var sealingCheck: String { "\(path)/master.key.check" }
    var adminCredential: String { "\(path)/admin.token" }
    var adminPassword: String { "\(path)/admin.password" }
    var auditHead: String { "\(path)/audit.head" }
    var endpoint: String { "\(path)/endpoint.json" }
    var tlsDirectory: String { "\(path)/tls" }
    var caCertificate: String { "\(tlsDirectory)/ca.pem" }
    var sealedCAKey: String { "\(tlsDirectory)/ca.key.sealed" }
    var serverCertificate: String { "\(tlsDirectory)/server.pem" }
    var sealedServerKey: String { "\(tlsDirectory)/server.key.sealed" }

    /// Creates the directory and its `tls/` folder if needed.
    func prepare() throws {
        for directory in [path, tlsDirectory] {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw WardenError(
                    .dataDirectoryUnusable,
                    "Cannot create the data directory \(directory): \(error.localizedDescription)")
            }
        }
    }

    func exists(_ file: String) -> Bool {
        FileManager.default.fileExists(atPath: file)
    }

    func read(_ file: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw WardenError(.dataDirectoryUnusable, "Cannot read \(file).")
        }
        return data
    }

    /// Writes atomically with `mode`; secrets get 0600 so that only the server's user can read them.
    func write(_ data: Data, to file: String, mode: Int) throws {
        let temporary = file + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: mode])
        else {
            throw WardenError(.dataDirectoryUnusable, "Cannot write \(file).")
        }
        do {
            if exists(file) { try FileManager.default.removeItem(atPath: file) }
            try FileManager.default.moveItem(atPath: temporary, toPath: file)
        } catch {
            throw WardenError(.dataDirectoryUnusable, "Cannot write \(file): \(error.localizedDescription)")
        }
    }
}
