import Crypto
import CryptoExtras
public import Foundation
public import WardenCore

/// The encrypted archive `warden backup` writes (issue 16, "Recover"): a plaintext header naming how the key is
/// made, then records, each sealed with AES-256-GCM under that key with the header's hash and the record's
/// number as associated data, so that records cannot be changed, reordered, dropped or moved between archives,
/// and a missing end record shows a cut archive.
///
/// ```
/// "WDNBKUP1" | UInt32 header length | header JSON | (UInt32 record length | nonce ‖ ciphertext ‖ tag)*
/// record = type (1 file, 2 data, 3 end) ‖ payload
/// ```
public enum BackupArchive {
    /// What the archive's key is made from.
    public enum KeySource: Sendable {
        /// HKDF of the master key (the restore needs that master key).
        case masterKey(MasterKey)
        /// scrypt of a passphrase (the archive may then hold the master key itself).
        case passphrase(SecretBytes)
    }

    /// One record of an archive.
    public enum Record: Sendable, Equatable {
        /// A file begins: its path in the data directory and its mode.
        case file(path: String, mode: Int)
        case data([UInt8])
        /// The last record: how many files came before it.
        case end(files: Int)
    }

    static let magic = Array("WDNBKUP1".utf8)
    /// Data records hold at most this many bytes.
    public static let chunkSize = 1 << 20
    /// A record's sealed size, at most (a chunk, its type byte, nonce and tag, with room to spare).
    static let maximumRecordBytes = chunkSize + 1_024
    static let maximumHeaderBytes = 4_096
    /// scrypt's cost: 2^15 rounds of 8-block memory (32 MiB, about 0.1 s), as OWASP recommends at least.
    static let scryptRounds = 1 << 15
    static let masterKeyLabel = "warden.backup.v1."
    /// The most scrypt rounds a header may ask for (2^17 at r = 8 is 128 MiB): a hostile header costs no more.
    static let maximumRounds = 1 << 17

    struct Header: Codable {
        let version: Int
        /// Random: no two archives share a header, so no record fits another archive.
        let id: String
        /// `master-key` or `passphrase`.
        let key: String
        /// The master key's identifier (hex), to name the right one when it is not.
        let keyID: String?
        let salt: String?
        let rounds: Int?
        let createdAt: String
    }

    /// Writes an archive record by record.
    public struct Writer: Sendable {
        private let key: SymmetricKey
        private let headerHash: [UInt8]
        private var index: UInt64 = 0
        /// The magic and the header: the first bytes of the archive.
        public let preamble: [UInt8]

        public init(_ source: KeySource, createdAt: Date) throws(WardenError) {
            let header: Header
            let id = Hex.encode(SecretBytes.random(count: 16).bytes)
            switch source {
            case .masterKey(let masterKey):
                // One key per archive (the label holds its id): no two archives share a key, nor its nonces.
                key = SymmetricKey(data: masterKey.derivedKey(label: BackupArchive.masterKeyLabel + id).bytes)
                header = Header(
                    version: 1, id: id, key: "master-key",
                    keyID: Hex.encode(masterKey.identifier), salt: nil, rounds: nil,
                    createdAt: UTCTimestamp.string(milliseconds: createdAt.unixMilliseconds))
            case .passphrase(let passphrase):
                let salt = SecretBytes.random(count: 16).bytes
                key = try BackupArchive.stretch(passphrase, salt: salt, rounds: BackupArchive.scryptRounds)
                header = Header(
                    version: 1, id: id, key: "passphrase", keyID: nil,
                    salt: Hex.encode(salt),
                    rounds: BackupArchive.scryptRounds,
                    createdAt: UTCTimestamp.string(milliseconds: createdAt.unixMilliseconds))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let json = Array((try? encoder.encode(header)) ?? Data())
            headerHash = Array(SHA256.hash(data: json))
            preamble = BackupArchive.magic + BackupArchive.length(json.count) + json
        }

        /// The next record, sealed, with its length in front.
        public mutating func seal(_ record: Record) throws(WardenError) -> [UInt8] {
            let plain: [UInt8] =
                switch record {
                case .file(let path, let mode): [1] + Array("\(mode & 0o777) \(path)".utf8)
                case .data(let bytes): [2] + bytes
                case .end(let files): [3] + Array(String(files).utf8)
                }
            defer { index += 1 }
            do {
                let sealed = try AES.GCM.seal(
                    plain, using: key, authenticating: headerHash + BackupArchive.bytes(index))
                guard let combined = sealed.combined else {
                    throw WardenError(.sealingFailed, "A backup record did not seal.")
                }
                return BackupArchive.length(combined.count) + Array(combined)
            } catch let error as WardenError {
                throw error
            } catch {
                throw WardenError(.sealingFailed, "A backup record did not seal: \(error).")
            }
        }
    }

    /// Reads an archive from bytes handed in as they come.
    public struct Reader: Sendable {
        /// Bytes fed and not yet read, from `offset` on (compacted now and then, not at every record).
        private var buffer: [UInt8] = []
        private var offset = 0
        private var key: SymmetricKey?
        private var headerHash: [UInt8] = []
        private var index: UInt64 = 0
        private var ended = false
        private let source: @Sendable (_ keyIsMaster: Bool, _ keyID: String?) throws(WardenError) -> KeySource

        /// `source` gives the key the header asks for: the master key, or the passphrase.
        public init(
            key source: @escaping @Sendable (_ keyIsMaster: Bool, _ keyID: String?) throws(WardenError) -> KeySource
        ) {
            self.source = source
        }

        /// Whether the end record was read (an archive without one was cut short).
        public var isComplete: Bool { ended }

        /// Takes more bytes; returns the records they complete; `backup.invalid` for anything not an intact archive
        /// this key opens.
        public mutating func feed(_ bytes: some Collection<UInt8>) throws(WardenError) -> [Record] {
            if offset > 0, offset >= buffer.count / 2 {
                buffer.removeFirst(offset)
                offset = 0
            }
            buffer += bytes
            var records: [Record] = []
            if key == nil {
                guard try readHeader() else { return [] }
            }
            while let record = try nextRecord() { records.append(record) }
            guard !ended || offset == buffer.count else {
                throw WardenError(.backupInvalid, "The backup has data after its end.")
            }
            return records
        }

        private var unread: Int { buffer.count - offset }

        private mutating func readHeader() throws(WardenError) -> Bool {
            guard buffer.count >= 12 else { return false }
            guard Array(buffer.prefix(8)) == BackupArchive.magic else {
                throw WardenError(.backupInvalid, "This is not a Warden backup.")
            }
            let length = BackupArchive.length(of: buffer[8..<12])
            guard length <= BackupArchive.maximumHeaderBytes else {
                throw WardenError(.backupInvalid, "The backup's header is too large.")
            }
            guard buffer.count >= 12 + length else { return false }
            let json = Array(buffer[12..<(12 + length)])
            guard let header = try? JSONDecoder().decode(Header.self, from: Data(json)), header.version == 1 else {
                throw WardenError(.backupInvalid, "The backup's header cannot be read (a newer version?).")
            }
            switch try source(header.key == "master-key", header.keyID) {
            case .masterKey(let masterKey):
                guard header.key == "master-key" else {
                    throw WardenError(.backupInvalid, "This backup is sealed with a passphrase; give it.")
                }
                guard header.keyID == Hex.encode(masterKey.identifier) else {
                    throw WardenError(
                        .backupInvalid, "This backup is sealed under master key \(header.keyID ?? "?"), not this one.")
                }
                key = SymmetricKey(data: masterKey.derivedKey(label: BackupArchive.masterKeyLabel + header.id).bytes)
            case .passphrase(let passphrase):
                guard header.key == "passphrase", let salt = header.salt.flatMap(Hex.decode),
                    let rounds = header.rounds,
                    (1_024...BackupArchive.maximumRounds).contains(rounds), rounds.nonzeroBitCount == 1
                else {
                    throw WardenError(.backupInvalid, "This backup is sealed under a master key, not a passphrase.")
                }
                key = try BackupArchive.stretch(passphrase, salt: salt, rounds: rounds)
            }
            headerHash = Array(SHA256.hash(data: json))
            offset = 12 + length
            return true
        }

        private mutating func nextRecord() throws(WardenError) -> Record? {
            guard let key, unread >= 4 else { return nil }
            let length = BackupArchive.length(of: buffer[offset..<(offset + 4)])
            guard length >= 29, length <= BackupArchive.maximumRecordBytes else {
                throw WardenError(.backupInvalid, "The backup is damaged (a record of \(length) bytes).")
            }
            guard unread >= 4 + length else { return nil }
            guard !ended else { throw WardenError(.backupInvalid, "The backup has data after its end.") }
            let plain: [UInt8]
            do {
                let box = try AES.GCM.SealedBox(combined: buffer[(offset + 4)..<(offset + 4 + length)])
                plain = Array(
                    try AES.GCM.open(box, using: key, authenticating: headerHash + BackupArchive.bytes(index)))
            } catch {
                throw WardenError(
                    .backupInvalid, "The backup does not open: a wrong passphrase or key, or a damaged archive.")
            }
            offset += 4 + length
            index += 1
            guard let type = plain.first else { throw WardenError(.backupInvalid, "The backup holds an empty record.") }
            let payload = plain.dropFirst()
            switch type {
            case 1:
                let text = String(decoding: payload, as: UTF8.self)
                // total: parses text: nil unless a number.
                guard let space = text.firstIndex(of: " "), let mode = Int(text[..<space]), (0...0o777).contains(mode)
                else { throw WardenError(.backupInvalid, "The backup names a file it cannot read.") }
                return .file(path: String(text[text.index(after: space)...]), mode: mode)
            case 2:
                return .data(Array(payload))
            case 3:
                // total: parses text: nil unless a number.
                guard let files = Int(String(decoding: payload, as: UTF8.self)) else {
                    throw WardenError(.backupInvalid, "The backup's end cannot be read.")
                }
                ended = true
                return .end(files: files)
            default:
                throw WardenError(.backupInvalid, "The backup holds a record of an unknown type.")
            }
        }
    }

    static func stretch(_ passphrase: SecretBytes, salt: [UInt8], rounds: Int) throws(WardenError) -> SymmetricKey {
        do {
            return try KDF.Scrypt.deriveKey(
                from: passphrase.bytes, salt: salt, outputByteCount: 32, rounds: rounds, blockSize: 8, parallelism: 1)
        } catch {
            throw WardenError(.sealingFailed, "The passphrase could not be stretched: \(error).")
        }
    }

    static func length(_ count: Int) -> [UInt8] {
        // total: records and headers are far below 4 GiB (chunks of 1 MiB).
        bytes(UInt32(clamping: count))
    }

    static func bytes<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    static func length(of bytes: ArraySlice<UInt8>) -> Int {
        // total: four bytes make a UInt32, which an Int on 64-bit platforms holds.
        Int(bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
    }
}
