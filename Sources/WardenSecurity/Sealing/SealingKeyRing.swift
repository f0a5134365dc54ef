import Synchronization
public import WardenCore

/// The master keys secrets are sealed under: the one in use, and during a rotation the one it replaces.
///
/// Values are sealed under the key in use and opened under whichever key their envelope names, so that while a
/// rotation re-seals the stores every value opens, sealed before or after it began.
public final class SealingKeyRing: SecretSealer {
    private struct Keys {
        var current: AESGCMSealer
        var retiring: AESGCMSealer?
    }

    private let keys: Mutex<Keys>

    /// A ring sealing under `current`; `retiring`, when given, still opens what it sealed.
    public init(current: MasterKey, retiring: MasterKey? = nil) {
        keys = Mutex(Keys(current: AESGCMSealer(masterKey: current), retiring: retiring.map(AESGCMSealer.init)))
    }

    /// The identifier of the key values are sealed under now.
    public var currentIdentifier: [UInt8] { keys.withLock { $0.current.identifier } }

    /// The key values are sealed under now (a backup's key is derived from it, or the backup carries it).
    public var currentKey: MasterKey { keys.withLock { $0.current.masterKey } }

    /// The identifier of the key being replaced, while a rotation runs.
    public var retiringIdentifier: [UInt8]? { keys.withLock { $0.retiring?.identifier } }

    /// Seals under `next` from now on; the key in use until now still opens what it sealed.
    public func begin(next: MasterKey) {
        keys.withLock { $0 = Keys(current: AESGCMSealer(masterKey: next), retiring: $0.current) }
    }

    /// Forgets the retiring key, once nothing is sealed under it any more.
    public func finish() {
        keys.withLock { $0.retiring = nil }
    }

    public func seal(_ secret: SecretBytes, context: String) throws(WardenError) -> [UInt8] {
        try keys.withLock { $0.current }.seal(secret, context: context)
    }

    public func open(_ sealed: [UInt8], context: String) throws(WardenError) -> SecretBytes {
        try sealer(for: sealed).open(sealed, context: context)
    }

    public func reseal(_ sealed: [UInt8], context: String) throws(WardenError) -> [UInt8]? {
        let current = keys.withLock { $0.current }
        guard AESGCMSealer.identifier(of: sealed) != current.identifier else { return nil }
        return try current.seal(try sealer(for: sealed).open(sealed, context: context), context: context)
    }

    /// The key an envelope names; the one in use when it names neither (its open then says so).
    private func sealer(for sealed: [UInt8]) -> AESGCMSealer {
        keys.withLock { keys in
            if let retiring = keys.retiring, AESGCMSealer.identifier(of: sealed) == retiring.identifier {
                return retiring
            }
            return keys.current
        }
    }
}
