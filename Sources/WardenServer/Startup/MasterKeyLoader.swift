import Foundation
import WardenCore
import WardenSecurity

/// Finds the master key: `WARDEN_MASTER_KEY`, else `DATA_DIR/master.key`, else (first start only) a new one.
///
/// A sealed check value beside the key proves on every start that the key opens this directory's secrets,
/// so a wrong key stops start-up with a clear message instead of failing later on the first secret.
enum MasterKeyLoader {
    static let checkContext = "warden.master-key.check"

    static func load(_ directory: DataDirectory, override: SecretBytes?) throws -> (MasterKey, isNew: Bool) {
        let key: MasterKey
        var isNew = false
        if let override {
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
}
