import Foundation
import WardenCore
import WardenSecurity

/// The master key as start-up found it.
struct LoadedMasterKey {
    /// Where it is kept: the rotation can replace a file, wrapped or not, but not an environment variable.
    enum Source: String, Sendable {
        case file
        case hsm
        case environment
    }

    /// Seals under the key in use; during an unfinished rotation, also opens under the key it replaces.
    let ring: SealingKeyRing
    /// The key `master.key` (or its wrapped form) holds: what the audit chain's key was first derived from.
    let stored: MasterKey
    let source: Source
    let isNew: Bool
    /// Whether a rotation was under way when the process stopped (`master.key.next` exists): start-up ends it.
    var rotationPending: Bool { ring.retiringIdentifier != nil }
}

/// Finds the master key: `WARDEN_MASTER_KEY`, else `DATA_DIR/master.key`, else (first start only) a new one;
/// with an HSM, `master.key.wrapped`. A `master.key.next` (or `master.key.wrapped.next`) beside it is the key an
/// interrupted rotation was moving to: values are sealed under it from then on, and opened under either.
///
/// A sealed check value beside the key proves on every start that the key opens this directory's secrets,
/// so a wrong key stops start-up with a clear message instead of failing later on the first secret.
enum MasterKeyLoader {
    static let checkContext = "warden.master-key.check"

    static func load(_ directory: DataDirectory, override: SecretBytes?, hardware: HardwareKey? = nil) throws
        -> LoadedMasterKey
    {
        let key: MasterKey
        var isNew = false
        var next: MasterKey? = nil
        let source: LoadedMasterKey.Source
        if let hardware {
            (key, isNew) = try loadWrapped(directory, token: hardware)
            if directory.exists(directory.nextWrappedMasterKey) {
                next = try unwrap(directory.nextWrappedMasterKey, directory, token: hardware)
            }
            source = .hsm
        } else if directory.exists(directory.wrappedMasterKey) {
            throw WardenError(
                .masterKeyInvalid,
                "\(directory.path) has a master key wrapped by an HSM; configure 'hsm.*' and WARDEN_HSM_PIN.")
        } else if let override {
            key = try MasterKey(base64: String(decoding: override.bytes, as: UTF8.self))
            source = .environment
        } else if directory.exists(directory.masterKey) {
            key = try readPlain(directory.masterKey, directory)
            if directory.exists(directory.nextMasterKey) { next = try readPlain(directory.nextMasterKey, directory) }
            source = .file
        } else {
            guard !directory.exists(directory.database) else {
                throw WardenError(
                    .masterKeyInvalid,
                    "\(directory.path) has a database but no master.key and WARDEN_MASTER_KEY is not set; "
                        + "restore the key that sealed it.")
            }
            key = MasterKey.generate()
            try directory.write(Data((key.base64 + "\n").utf8), to: directory.masterKey, mode: 0o600)
            isNew = true
            source = .file
        }
        let ring = next.map { SealingKeyRing(current: $0, retiring: key) } ?? SealingKeyRing(current: key)
        if directory.exists(directory.sealingCheck) {
            do {
                _ = try ring.open(Array(try directory.read(directory.sealingCheck)), context: checkContext)
            } catch {
                throw WardenError(
                    .masterKeyInvalid, "The master key does not open the secrets in \(directory.path) (wrong key?).")
            }
        } else {
            let check = try ring.seal(.random(count: 16), context: checkContext)
            try directory.write(Data(check), to: directory.sealingCheck, mode: 0o600)
        }
        return LoadedMasterKey(ring: ring, stored: key, source: source, isNew: isNew)
    }

    static func readPlain(_ file: String, _ directory: DataDirectory) throws -> MasterKey {
        try MasterKey(base64: String(decoding: try directory.read(file), as: UTF8.self))
    }

    static func unwrap(_ file: String, _ directory: DataDirectory, token: HardwareKey) throws -> MasterKey {
        let bytes = try token.unwrap(Array(try directory.read(file)))
        return try MasterKey(base64: Data(bytes.bytes).base64EncodedString())
    }

    /// With an HSM: the master key unwrapped by the token's key; a `master.key` file still there is wrapped and
    /// then removed (moving a data directory into the HSM); a fresh directory gets a new key, wrapped at once.
    private static func loadWrapped(_ directory: DataDirectory, token: HardwareKey) throws
        -> (MasterKey, isNew: Bool)
    {
        if directory.exists(directory.wrappedMasterKey) {
            return (try unwrap(directory.wrappedMasterKey, directory, token: token), false)
        }
        let key: MasterKey
        let isNew: Bool
        guard !directory.exists(directory.nextMasterKey) else {
            throw WardenError(
                .masterKeyInvalid,
                "\(directory.path) has a master-key rotation under way (master.key.next): start once without the HSM to finish it, then move it into the HSM."
            )
        }
        if directory.exists(directory.masterKey) {
            key = try readPlain(directory.masterKey, directory)
            isNew = false
        } else {
            guard !directory.exists(directory.database) else {
                throw WardenError(
                    .masterKeyInvalid,
                    "\(directory.path) has a database but no master key, wrapped or not; restore the one that sealed it."
                )
            }
            key = MasterKey.generate()
            isNew = true
        }
        try writeWrapped(key, to: directory.wrappedMasterKey, directory, token: token)
        // Only once the wrapped key is on disk and opens again is the plain one removed.
        try directory.remove(directory.masterKey)
        return (key, isNew)
    }

    /// Writes `key` wrapped by the token to `file`, and reads it back through the token before anything relies
    /// on it.
    static func writeWrapped(_ key: MasterKey, to file: String, _ directory: DataDirectory, token: HardwareKey) throws {
        let raw = SecretBytes(Array(Data(base64Encoded: key.base64) ?? Data()))
        try directory.write(Data(try token.wrap(raw)), to: file, mode: 0o600)
        guard (try? unwrap(file, directory, token: token))?.identifier == key.identifier else {
            // A file that does not give the key back must not be taken for one at the next start.
            try? directory.remove(file)
            throw WardenError(.masterKeyInvalid, "The HSM's wrapped master key does not unwrap to itself.")
        }
    }
}
