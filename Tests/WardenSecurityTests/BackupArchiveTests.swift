import Foundation
import Testing
import WardenCore
import WardenSecurity

/// The backup archive: what is written reads back record by record, in pieces of any size; a wrong key, a
/// changed, dropped or reordered record, and a cut archive are refused.
struct BackupArchiveTests {
    let key = MasterKey.generate()
    let records: [BackupArchive.Record] = [
        .file(path: "audit.head", mode: 0o600), .data(Array("head".utf8)), .file(path: "warden.sqlite", mode: 0o600),
        .data([UInt8](repeating: 7, count: BackupArchive.chunkSize)), .data([1, 2, 3]), .end(files: 2),
    ]

    func archive(_ source: BackupArchive.KeySource) throws -> (preamble: [UInt8], records: [[UInt8]]) {
        var writer = try BackupArchive.Writer(source, createdAt: Date())
        return (writer.preamble, try records.map { try writer.seal($0) })
    }

    func read(_ bytes: [UInt8], piece: Int, _ source: BackupArchive.KeySource) throws -> ([BackupArchive.Record], Bool)
    {
        var reader = BackupArchive.Reader { _, _ throws(WardenError) in source }
        var read: [BackupArchive.Record] = []
        for start in stride(from: 0, to: bytes.count, by: piece) {
            read += try reader.feed(bytes[start..<min(start + piece, bytes.count)])
        }
        return (read, reader.isComplete)
    }

    @Test(arguments: [1, 7, 4_096, 1 << 22])
    func whatIsWrittenReadsBackInPiecesOfAnySize(piece: Int) throws {
        let (preamble, sealed) = try archive(.masterKey(key))
        let (read, complete) = try read(preamble + sealed.joined(), piece: piece, .masterKey(key))
        #expect(read == records && complete)
    }

    @Test func aPassphraseArchiveOpensWithThePassphraseOnly() throws {
        let passphrase = SecretBytes(Array("correct horse battery staple".utf8))
        let (preamble, sealed) = try archive(.passphrase(passphrase))
        let bytes = preamble + sealed.joined()
        #expect(try read(bytes, piece: 1 << 22, .passphrase(passphrase)).0 == records)
        #expect(throws: WardenError.self) {
            _ = try read(bytes, piece: 1 << 22, .passphrase(SecretBytes(Array("wrong horse battery staple".utf8))))
        }
        #expect(throws: WardenError.self) { _ = try read(bytes, piece: 1 << 22, .masterKey(key)) }
    }

    @Test func changedReorderedDroppedOrCutArchivesAreRefused() throws {
        let (preamble, sealed) = try archive(.masterKey(key))
        var changed = preamble + sealed.joined()
        changed[preamble.count + 40] ^= 1
        #expect(throws: WardenError.self) { _ = try read(changed, piece: 1 << 22, .masterKey(key)) }
        let reordered = preamble + ([sealed[1], sealed[0]] + sealed.dropFirst(2)).joined()
        #expect(throws: WardenError.self) { _ = try read(reordered, piece: 1 << 22, .masterKey(key)) }
        let dropped = preamble + ([sealed[0]] + sealed.dropFirst(2)).joined()
        #expect(throws: WardenError.self) { _ = try read(dropped, piece: 1 << 22, .masterKey(key)) }
        let cut = try read(preamble + sealed.dropLast().joined(), piece: 1 << 22, .masterKey(key))
        #expect(!cut.1, "an archive without its end is not complete")
        #expect(throws: WardenError.self) {
            _ = try read(preamble + sealed.joined() + sealed[0], piece: 1 << 22, .masterKey(key))
        }
        // Another archive's record under the same key does not fit this one's header.
        let (_, other) = try archive(.masterKey(key))
        #expect(throws: WardenError.self) {
            _ = try read(preamble + other[0] + sealed.dropFirst().joined(), piece: 1 << 22, .masterKey(key))
        }
        #expect(throws: WardenError.self) { _ = try read(Array("not a backup at all".utf8), piece: 4, .masterKey(key)) }
        #expect(throws: WardenError.self) {
            _ = try read(preamble + sealed.joined(), piece: 1 << 22, .masterKey(.generate()))
        }
        // A length field claiming a huge record is refused before anything is buffered for it.
        #expect(throws: WardenError.self) {
            _ = try read(preamble + [0xFF, 0xFF, 0xFF, 0xFF], piece: 1 << 22, .masterKey(key))
        }
    }
}
