public import Foundation

/// The master key as the management API shows it: which key (by identifier, never the key), where it is kept,
/// and whether a rotation is under way.
public struct MasterKeyStatus: Sendable, Codable, Equatable {
    /// The first 8 bytes of the key's identifying hash, in hex: names the key, reveals nothing.
    public let keyID: String
    /// `file` (`master.key`), `hsm` (`master.key.wrapped`) or `environment` (`WARDEN_MASTER_KEY`).
    public let source: String
    public let rotating: Bool

    public init(keyID: String, source: String, rotating: Bool) {
        self.keyID = keyID
        self.source = source
        self.rotating = rotating
    }
}

/// What one master-key rotation did.
public struct MasterKeyRotationReport: Sendable, Codable, Equatable {
    public let keyID: String
    public let previousKeyID: String
    /// How many values were sealed again, per table or file.
    public let resealed: [String: Int]
    public let startedAt: Date
    public let finishedAt: Date

    public init(keyID: String, previousKeyID: String, resealed: [String: Int], startedAt: Date, finishedAt: Date) {
        self.keyID = keyID
        self.previousKeyID = previousKeyID
        self.resealed = resealed
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// The seam the management API rotates the master key through; the server implements it.
public protocol MasterKeyManaging: Sendable {
    func status() -> MasterKeyStatus
    /// Seals every secret again under a new master key, online; `master_key.not_rotatable`,
    /// `master_key.rotation_in_progress`.
    func rotate() async throws -> MasterKeyRotationReport
}

/// The seam the management API makes backups through (issue 16, "Recover"); the server implements it.
public protocol BackupMaking: Sendable {
    /// Prepares a consistent copy (the database snapshot taken, the files read), or refuses before anything is
    /// sent: `master_key.rotation_in_progress`. Sealed with a key derived from the master key, or, with
    /// `passphrase`, from it (and the archive then carries the master key too).
    func prepareBackup(passphrase: SecretBytes?) async throws -> any PreparedBackup
}

/// A backup ready to stream: its archive's bytes, in order, handed to `sink`; its temporary files go at the end.
public protocol PreparedBackup: Sendable {
    func write(to sink: ([UInt8]) async throws -> Void) async throws
}
