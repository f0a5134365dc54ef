import Foundation
import Synchronization
import WardenCore
import WardenSecurity
import WardenStore

/// Replaces the master key while the server runs (`warden keys rotate-master`), so that a crash at any moment
/// leaves a data directory that starts.
///
/// 1. A new key is written beside the old one (`master.key.next`, or `master.key.wrapped.next` with an HSM),
///    durably. From then on values are sealed under it and opened under either key.
/// 2. Every sealed value in the store is sealed again under it, in short transactions, twice: the second pass
///    finds what a writer sealed under the old key while the first ran. Then the sealed files (the check value,
///    the development CA's and the server's TLS keys).
/// 3. The new key is renamed over the old one, and the old one is forgotten.
///
/// A start-up that finds the new key beside the old one (a crash in step 1 or 2) opens with both and ends the
/// rotation before it serves; a crash before the rename of step 1's file leaves only the old key, which still
/// opens everything; after step 3 everything is under the new key. The audit chain's key is a data key sealed
/// in the store (`data_keys`), so it is re-sealed, not changed, and the chain verifies across a rotation.
final class MasterKeyRotation: MasterKeyManaging {
    /// The points a rotation passes, where tests stop it as a crash would.
    enum Step: Sendable {
        case nextKeyWritten
        case storeResealed
        case filesResealed
    }

    private let ring: SealingKeyRing
    private let source: LoadedMasterKey.Source
    private let directory: DataDirectory
    private let hardware: HardwareKey?
    private let store: any SealedSecretStore
    private let clock: any WardenClock
    private let checkpoint: @Sendable (Step) throws -> Void
    private let running = Mutex(false)
    /// Whether other nodes share the store: their keys would not follow a rotation this node makes.
    private let isShared: Bool

    init(
        _ loaded: LoadedMasterKey, directory: DataDirectory, hardware: HardwareKey?, store: any SealedSecretStore,
        isShared: Bool = false, clock: any WardenClock, checkpoint: @escaping @Sendable (Step) throws -> Void = { _ in }
    ) {
        self.isShared = isShared
        self.ring = loaded.ring
        self.source = loaded.source
        self.directory = directory
        self.hardware = hardware
        self.store = store
        self.clock = clock
        self.checkpoint = checkpoint
    }

    func status() -> MasterKeyStatus {
        MasterKeyStatus(
            keyID: Hex.encode(ring.currentIdentifier), source: source.rawValue,
            rotating: running.withLock { $0 } || ring.retiringIdentifier != nil)
    }

    func rotate() async throws -> MasterKeyRotationReport {
        guard !isShared else {
            throw WardenError(
                .masterKeyNotRotatable,
                "The store is PostgreSQL, which other nodes may share, and their master keys would not follow a "
                    + "rotation made here; rotating a shared store's key is not supported yet.")
        }
        guard source != .environment else {
            throw WardenError(
                .masterKeyNotRotatable,
                "The master key comes from WARDEN_MASTER_KEY, which Warden cannot replace; keep it in master.key to rotate it."
            )
        }
        try claim()
        defer { running.withLock { $0 = false } }
        let startedAt = clock.now()
        let previous = ring.currentIdentifier
        if ring.retiringIdentifier == nil {
            let next = MasterKey.generate()
            try writeNext(next)
            try checkpoint(.nextKeyWritten)
            ring.begin(next: next)
        }
        let resealed = try await finish()
        return MasterKeyRotationReport(
            keyID: Hex.encode(ring.currentIdentifier), previousKeyID: Hex.encode(previous), resealed: resealed,
            startedAt: startedAt, finishedAt: clock.now())
    }

    /// Ends a rotation a stopped process left under way (start-up, before anything is served); nil when there
    /// is none.
    func resumeIfPending() async throws -> MasterKeyRotationReport? {
        guard let previous = ring.retiringIdentifier else { return nil }
        try claim()
        defer { running.withLock { $0 = false } }
        let startedAt = clock.now()
        let resealed = try await finish()
        return MasterKeyRotationReport(
            keyID: Hex.encode(ring.currentIdentifier), previousKeyID: Hex.encode(previous), resealed: resealed,
            startedAt: startedAt, finishedAt: clock.now())
    }

    private func claim() throws {
        let claimed = running.withLock { running in
            guard !running else { return false }
            running = true
            return true
        }
        guard claimed else {
            throw WardenError(.masterKeyRotationInProgress, "A master-key rotation is running; wait for it to end.")
        }
    }

    /// Most passes over the store before the rename: each after the first finds only what writers sealed under
    /// the old key while the one before ran (a writer that seals before its transaction).
    static let maximumPasses = 5

    /// Steps 2 and 3, with the new key in use and the old one still opening.
    private func finish() async throws -> [String: Int] {
        var resealed: [String: Int] = [:]
        for _ in 0..<Self.maximumPasses {
            let pass = try await store.resealSecrets()
            let unreadable = pass.filter { $0.key.hasPrefix("unreadable.") }
            let moved = pass.filter { !$0.key.hasPrefix("unreadable.") }
            resealed.merge(moved, uniquingKeysWith: +)
            // Each pass meets the same unreadable values again: they are counted once.
            resealed.merge(unreadable, uniquingKeysWith: max)
            if moved.values.reduce(0, +) == 0 { break }
        }
        try checkpoint(.storeResealed)
        try TLSMaterial.sealedFiles.withLock { _ in
            for (file, context) in sealedFiles where directory.exists(file) {
                guard let fresh = try ring.reseal(Array(try directory.read(file)), context: context) else { continue }
                try directory.write(Data(fresh), to: file, mode: 0o600)
                resealed[(file as NSString).lastPathComponent, default: 0] += 1
            }
        }
        try checkpoint(.filesResealed)
        if hardware == nil {
            try directory.move(directory.nextMasterKey, over: directory.masterKey)
        } else {
            try directory.move(directory.nextWrappedMasterKey, over: directory.wrappedMasterKey)
        }
        ring.finish()
        return resealed.filter { $0.value > 0 }
    }

    /// The new key, on disk before anything is sealed under it.
    private func writeNext(_ key: MasterKey) throws {
        if let hardware {
            try MasterKeyLoader.writeWrapped(key, to: directory.nextWrappedMasterKey, directory, token: hardware)
        } else {
            try directory.write(Data((key.base64 + "\n").utf8), to: directory.nextMasterKey, mode: 0o600)
        }
    }

    /// The sealed files of a data directory and what each is bound to.
    private var sealedFiles: [(String, String)] {
        [
            (directory.sealingCheck, MasterKeyLoader.checkContext),
            (directory.sealedCAKey, TLSMaterial.caKeyContext),
            (directory.sealedServerKey, TLSMaterial.serverKeyContext),
        ]
    }
}
