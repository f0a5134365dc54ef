import Foundation
import WardenCore
import WardenSecurity

/// Finds the master key: `WARDEN_MASTER_KEY`, else `DATA_DIR/master.key`, else (first start only) a new one.
///
/// A sealed check value beside the key proves on every start that the key opens this directory's secrets,
/// so a wrong key stops start-up with a clear message instead of failing later on the first secret.
enum MasterKeyLoader {
    static let checkContext = "warden.master-key.check"

    static func load(_ directory: DataDirectory, override: SecretBytes?, hardware: HardwareKey? = nil) throws
        -> (MasterKey, isNew: Bool)
    {
        let key: MasterKey
        var isNew = false
        if let hardware {
            (key, isNew) = try loadWrapped(directory, token: hardware)
        } else if directory.exists(directory.wrappedMasterKey) {
            throw WardenError(
                .masterKeyInvalid,
                "\(directory.path) has a master key wrapped by an HSM; configure 'hsm.*' and WARDEN_HSM_PIN.")
        } else if let override {
            key = try MasterKey(base64: String(decoding: override.bytes, as: UTF8.self))
        } else if directory.exists(directory.masterKey) {
            key = try MasterKey(base64: String(decoding: try directory.read(directory.masterKey), as: UTF8.self))
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
        }
        let sealer = AESGCMSealer(masterKey: key)
        if directory.exists(directory.sealingCheck) {
            do {
                _ = try sealer.open(Array(try directory.read(directory.sealingCheck)), context: checkContext)
            } catch {
                throw WardenError(
                    .masterKeyInvalid, "The master key does not open the secrets in \(directory.path) (wrong key?).")
            }
        } else {
            let check = try sealer.seal(.random(count: 16), context: checkContext)
            try directory.write(Data(check), to: directory.sealingCheck, mode: 0o600)
        }
        return (key, isNew)
    }

    /// With an HSM: the master key unwrapped by the token's key; a `master.key` file still there is wrapped and
    /// then removed (moving a data directory into the HSM); a fresh directory gets a new key, wrapped at once.
    private static func loadWrapped(_ directory: DataDirectory, token: HardwareKey) throws
        -> (MasterKey, isNew: Bool)
    {
        if directory.exists(directory.wrappedMasterKey) {
            let bytes = try token.unwrap(Array(try directory.read(directory.wrappedMasterKey)))
            return (try MasterKey(base64: Data(bytes.bytes).base64EncodedString()), false)
        }
        let key: MasterKey
        let isNew: Bool
        if directory.exists(directory.masterKey) {
            key = try MasterKey(base64: String(decoding: try directory.read(directory.masterKey), as: UTF8.self))
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
        let raw = SecretBytes(Array(Data(base64Encoded: key.base64) ?? Data()))
        try directory.write(Data(try token.wrap(raw)), to: directory.wrappedMasterKey, mode: 0o600)
        // Only once the wrapped key is on disk and opens again is the plain one removed.
        guard try token.unwrap(Array(try directory.read(directory.wrappedMasterKey))).bytes == raw.bytes else {
            throw WardenError(.masterKeyInvalid, "The HSM's wrapped master key does not unwrap to itself.")
        }
        try? FileManager.default.removeItem(atPath: directory.masterKey)
        return (key, isNew)
    }
}
