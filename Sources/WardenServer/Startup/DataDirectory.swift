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
    /// The key a master-key rotation moves to, until the rotation ends by renaming it to `master.key`.
    var nextMasterKey: String { "\(path)/master.key.next" }
    /// The same, wrapped by the HSM's key.
    var nextWrappedMasterKey: String { "\(path)/master.key.wrapped.next" }
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
    ///
    /// The bytes reach the disk in a temporary file before it is renamed over `file`, and the rename reaches it
    /// before this returns, so a crash at any point leaves the old file or the new one, whole.
    func write(_ data: Data, to file: String, mode: Int) throws {
        let temporary = file + ".tmp"
        // total: modes are 0o600 and 0o644.
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard descriptor >= 0 else {
            throw WardenError(.dataDirectoryUnusable, "Cannot write \(file) (errno \(errno)).")
        }
        let written = data.withUnsafeBytes { bytes in
            Foundation.write(descriptor, bytes.baseAddress, bytes.count) == bytes.count
        }
        let synced = written && fchmod(descriptor, mode_t(mode)) == 0 && fsync(descriptor) == 0
        close(descriptor)
        guard synced, rename(temporary, file) == 0 else {
            unlink(temporary)
            throw WardenError(.dataDirectoryUnusable, "Cannot write \(file) (errno \(errno)).")
        }
        try syncDirectory(of: file)
    }

    /// Removes `file` durably (its absence survives a crash); a missing file is not an error.
    func remove(_ file: String) throws {
        guard unlink(file) == 0 || errno == ENOENT else {
            throw WardenError(.dataDirectoryUnusable, "Cannot remove \(file) (errno \(errno)).")
        }
        try syncDirectory(of: file)
    }

    /// Renames `source` over `target` durably: a crash leaves one of them named `target`.
    func move(_ source: String, over target: String) throws {
        guard rename(source, target) == 0 else {
            throw WardenError(.dataDirectoryUnusable, "Cannot rename \(source) to \(target) (errno \(errno)).")
        }
        try syncDirectory(of: target)
    }

    /// Makes the entries (renames, removals) of the directory holding `file` durable.
    private func syncDirectory(of file: String) throws {
        let directory = (file as NSString).deletingLastPathComponent
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw WardenError(.dataDirectoryUnusable, "Cannot open \(directory) (errno \(errno)).")
        }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw WardenError(.dataDirectoryUnusable, "Cannot sync \(directory) (errno \(errno)).")
        }
    }
}
