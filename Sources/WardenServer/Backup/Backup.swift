import Foundation
public import WardenCore
import WardenSecurity
import WardenStore

/// `warden backup create` and `restore` (issue 16, "Recover"): an online, consistent copy of everything a data
/// directory needs to start again with every device's credentials working, in one encrypted `BackupArchive`.
///
/// The audit head is read before the database is copied, so the copy holds every record the head names (a head
/// ahead of its database would look like a truncated log). The database is SQLite's online backup of one read
/// transaction: writers go on meanwhile. The TLS keys and the development CA's key stay sealed under the master
/// key, as they are in the directory.
struct BackupMaker: BackupMaking {
    let directory: DataDirectory
    /// The SQLite store to copy; nil when the hub keeps its state in PostgreSQL, whose own tools back it up.
    let database: SQLiteDatabase?
    let ring: SealingKeyRing
    let rotation: any MasterKeyManaging
    /// Whether an HSM wraps the master key: no key file exists that an operator could keep apart to open a
    /// master-key backup, so a backup needs a passphrase (and then carries the key).
    let masterKeyIsWrapped: Bool
    let events: EventBus
    let clock: any WardenClock

    /// The files a restore writes besides the database and the master key, relative to the data directory:
    /// only these names are ever written by a restore, whatever an archive says.
    static let files = [
        "audit.head", "master.key.check", "admin.token", "admin.password", "tls/ca.pem", "tls/ca.key.sealed",
        "tls/server.pem", "tls/server.key.sealed",
    ]
    static let databaseFile = "warden.sqlite"
    static let masterKeyFile = "master.key"
    /// A passphrase's shortest length.
    static let minimumPassphrase = 12
    /// The database copies backups take in the data directory (plaintext pages: a crash's leftovers go at start).
    static let snapshotPrefix = "backup-"

    func prepareBackup(passphrase: SecretBytes?) async throws -> any PreparedBackup {
        guard let database else {
            throw WardenError(
                .backupNotSupported,
                "This hub keeps its state in PostgreSQL: back the database up with pg_dump or base backups, and the "
                    + "master key apart.")
        }
        if let passphrase, passphrase.bytes.count < Self.minimumPassphrase {
            throw WardenError(
                .requestInvalidField, "A backup passphrase is at least \(Self.minimumPassphrase) characters.")
        }
        if masterKeyIsWrapped, passphrase == nil {
            throw WardenError(
                .requestInvalidField,
                "An HSM wraps this hub's master key, so no key file exists to open a master-key backup: give a passphrase."
            )
        }
        guard !rotation.status().rotating else {
            throw WardenError(.masterKeyRotationInProgress, "A master-key rotation is running; back up after it.")
        }
        let key = ring.currentKey
        // Made before the copy, so that nothing can fail between the copy and the stream that removes it.
        let writer = try BackupArchive.Writer(
            passphrase.map { .passphrase($0) } ?? .masterKey(key), createdAt: clock.now())
        var files: [(String, Int, Data)] = []
        for name in Self.files where directory.exists("\(directory.path)/\(name)") {
            let path = "\(directory.path)/\(name)"
            let mode = (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0o600
            files.append((name, mode & 0o777, try directory.read(path)))
        }
        if passphrase != nil { files.append((Self.masterKeyFile, 0o600, Data(key.base64.utf8))) }
        let snapshot =
            "\(directory.path)/\(Self.snapshotPrefix)\(Hex.encode(SecretBytes.random(count: 6).bytes)).sqlite"
        do {
            try await database.snapshot(to: snapshot)
        } catch {
            try? FileManager.default.removeItem(atPath: snapshot)
            throw WardenError(.storeUnavailable, "The database could not be copied: \(error).")
        }
        return Prepared(
            writer: writer, files: files, snapshot: snapshot, events: events, clock: clock,
            withPassphrase: passphrase != nil)
    }

    /// Removes database copies a backup stopped by a crash left in the data directory (start-up).
    static func removeStaleSnapshots(in directory: DataDirectory) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        where name.hasPrefix(snapshotPrefix) && name.contains(".sqlite") {
            try? FileManager.default.removeItem(atPath: "\(directory.path)/\(name)")
        }
    }

    /// A backup whose database copy is taken: streamed record by record, the copy removed at the end.
    struct Prepared: PreparedBackup {
        let writer: BackupArchive.Writer
        let files: [(String, Int, Data)]
        let snapshot: String
        let events: EventBus
        let clock: any WardenClock
        let withPassphrase: Bool

        func write(to sink: ([UInt8]) async throws -> Void) async throws {
            defer { try? FileManager.default.removeItem(atPath: snapshot) }
            var writer = writer
            try await sink(writer.preamble)
            for (name, mode, data) in files {
                try await sink(try writer.seal(.file(path: name, mode: mode)))
                for start in stride(from: 0, to: data.count, by: BackupArchive.chunkSize) {
                    try await sink(
                        try writer.seal(.data(Array(data[start..<min(start + BackupArchive.chunkSize, data.count)]))))
                }
            }
            try await sink(try writer.seal(.file(path: BackupMaker.databaseFile, mode: 0o600)))
            guard let handle = FileHandle(forReadingAtPath: snapshot) else {
                throw WardenError(.storeUnavailable, "The database copy cannot be read.")
            }
            defer { try? handle.close() }
            while let chunk = try handle.read(upToCount: BackupArchive.chunkSize), !chunk.isEmpty {
                try await sink(try writer.seal(.data(Array(chunk))))
            }
            try await sink(try writer.seal(.end(files: files.count + 1)))
            // Only a backup sent whole counts: an audit record, and the posture report's last backup.
            events.publish(.backupMade(at: clock.now(), withPassphrase: withPassphrase))
        }
    }

    /// Refuses a target that is neither absent nor an empty directory of its own (a file, a symlink, a directory
    /// with something in it, or one that cannot be looked at).
    static func checkTarget(_ target: String) throws {
        var status = stat()
        guard lstat(target, &status) == 0 else {
            guard errno == ENOENT else { throw WardenError(.dataDirectoryUnusable, "Cannot look at \(target).") }
            return
        }
        guard status.st_mode & S_IFMT == S_IFDIR,
            let entries = try? FileManager.default.contentsOfDirectory(atPath: target), entries.isEmpty
        else {
            throw WardenError(
                .dataDirectoryUnusable, "\(target) is not an empty directory; restore into a new data directory.")
        }
    }

    /// Writes the archive at `archive` into the data directory `target`, which must not exist or be an empty
    /// directory. The files land in a fresh staging directory (0700) beside it first, each synced, and move into
    /// place only once the whole archive opened, so a bad or cut archive leaves nothing behind. `key` answers the
    /// header: the master key, or the passphrase.
    static func restore(
        _ archive: String, into target: String,
        key: @escaping @Sendable (_ keyIsMaster: Bool, _ keyID: String?) throws(WardenError) -> BackupArchive.KeySource,
        masterKey: MasterKey?
    ) throws -> [String] {
        let manager = FileManager.default
        try checkTarget(target)
        guard let input = FileHandle(forReadingAtPath: archive) else {
            throw WardenError(.dataDirectoryUnusable, "Cannot read \(archive).")
        }
        defer { try? input.close() }
        let staging = "\(target).restoring-\(Hex.encode(SecretBytes.random(count: 6).bytes))"
        try manager.createDirectory(
            atPath: staging, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        do {
            try manager.createDirectory(
                atPath: staging + "/tls", withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            var reader = BackupArchive.Reader(key: key)
            var written: [String] = []
            var current: FileHandle?
            let allowed = Set(files + [databaseFile, masterKeyFile])
            while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
                for record in try reader.feed(chunk) {
                    switch record {
                    case .file(let path, let mode):
                        try current?.synchronize()
                        try current?.close()
                        guard allowed.contains(path), !written.contains(path) else {
                            throw WardenError(
                                .backupInvalid, "The backup names a file a restore does not write: \(path).")
                        }
                        let file = "\(staging)/\(path)"
                        guard manager.createFile(atPath: file, contents: nil, attributes: [.posixPermissions: mode]),
                            let handle = FileHandle(forWritingAtPath: file)
                        else { throw WardenError(.dataDirectoryUnusable, "Cannot write \(file).") }
                        current = handle
                        written.append(path)
                    case .data(let bytes):
                        guard let current else { throw WardenError(.backupInvalid, "The backup's data names no file.") }
                        try current.write(contentsOf: bytes)
                    case .end(let count):
                        guard count == written.count else {
                            throw WardenError(
                                .backupInvalid, "The backup's end counts \(count) files, not \(written.count).")
                        }
                    }
                }
            }
            try current?.synchronize()
            try current?.close()
            guard reader.isComplete else {
                throw WardenError(.backupInvalid, "The backup is cut short: its end is missing.")
            }
            guard written.contains(databaseFile) else {
                throw WardenError(.backupInvalid, "The backup holds no database.")
            }
            if let masterKey, !written.contains(masterKeyFile) {
                try DataDirectory(path: staging).write(
                    Data(masterKey.base64.utf8), to: "\(staging)/\(masterKeyFile)", mode: 0o600)
                written.append(masterKeyFile)
            }
            // The target is absent or an empty directory of its own (checked above).
            if manager.fileExists(atPath: target) { try manager.removeItem(atPath: target) }
            try manager.moveItem(atPath: staging, toPath: target)
            return written
        } catch {
            try? manager.removeItem(atPath: staging)
            throw error
        }
    }
}

extension WardenServer {
    /// `warden backup restore`: writes the backup at `archive` into the new data directory `dataDirectory`
    /// (offline: no server may run on it). A passphrase opens a passphrase backup; a master key (base64, as in
    /// `master.key`) opens a master-key backup and is written as the directory's `master.key`. Returns the files
    /// written.
    public static func restoreBackup(
        _ archive: String, into dataDirectory: String, passphrase: SecretBytes?, masterKey: String?
    ) throws -> [String] {
        let key = try masterKey.map { text throws(WardenError) in try MasterKey(base64: text) }
        return try BackupMaker.restore(
            archive, into: dataDirectory,
            key: { keyIsMaster, keyID throws(WardenError) in
                if keyIsMaster {
                    guard let key else {
                        throw WardenError(
                            .backupInvalid,
                            "This backup is sealed under master key \(keyID ?? "?"): give it (--master-key-file or WARDEN_MASTER_KEY)."
                        )
                    }
                    return .masterKey(key)
                }
                guard let passphrase else {
                    throw WardenError(
                        .backupInvalid,
                        "This backup is sealed with a passphrase: give it (--passphrase-file or WARDEN_BACKUP_PASSPHRASE)."
                    )
                }
                return .passphrase(passphrase)
            }, masterKey: key)
    }
}
