import Foundation
import GRDB
import Logging
import Synchronization
import Testing
import WardenCore
import WardenSecurity
import WardenStore

@testable import WardenAudit

/// The log on a real SQLite file; tampering is done the way an attacker would: by editing the file.
struct AuditLogTests {
    let folder: URL
    let path: String
    let database: SQLiteDatabase
    let chain = AuditChain(key: .random(count: 32))
    let head: AuditHead

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("warden-audit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        path = folder.appendingPathComponent("warden.sqlite").path
        database = try SQLiteDatabase(path: path, sealer: AESGCMSealer(masterKey: .generate()))
        head = AuditHead(path: folder.appendingPathComponent("audit.head").path)
    }

    func record(_ index: Int, tenant: String = "default", at: Int64 = 1_800_000_000_000) -> AuditRecord {
        AuditRecord(
            at: at + Int64(index), tenant: try? TenantID(tenant), actorKind: "user", actor: "ada",
            sourceIP: "127.0.0.1", action: "createDevice", target: "/api/v1/tenants/\(tenant)/devices",
            outcome: .success, details: ["after": "device-\(index)"])
    }

    /// A log with `count` records, committed.
    func filledLog(_ count: Int) async throws -> AuditLog {
        let log = try await AuditLog(
            store: database, chain: chain, head: head, bufferLimit: 100_000, clock: SystemClock(),
            logger: Logger(label: "test"))
        for index in 1...count { log.record(record(index)) }
        await log.commitPending()
        return log
    }

    func verify() async throws -> AuditVerification {
        try await AuditVerification.run(store: database, chain: chain, head: head)
    }

    func edit(_ sql: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { try $0.execute(sql: sql) }
    }

    @Test func anUntouchedLogVerifiesAndContinuesAcrossRestarts() async throws {
        _ = try await filledLog(50)
        let reopened = try await AuditLog(
            store: database, chain: chain, head: head, bufferLimit: 100_000, clock: SystemClock(),
            logger: Logger(label: "test"))
        reopened.record(record(51))
        await reopened.commitPending()
        let result = try await verify()
        #expect(result.isIntact && result.checked == 51 && result.lastSequence == 51)
    }

    @Test func aModifiedRecordIsFound() async throws {
        _ = try await filledLog(20)
        try edit("UPDATE audit_records SET actor = 'mallory' WHERE sequence = 7")
        #expect(try await verify().problem == .modified(sequence: 7))
    }

    @Test func aModifiedDetailIsFound() async throws {
        _ = try await filledLog(20)
        try edit(#"UPDATE audit_records SET details = '{"after":"device-99"}' WHERE sequence = 12"#)
        #expect(try await verify().problem == .modified(sequence: 12))
    }

    @Test func aDeletedRecordIsFound() async throws {
        _ = try await filledLog(20)
        try edit("DELETE FROM audit_records WHERE sequence = 9")
        #expect(try await verify().problem == .missing(after: 8, next: 10))
    }

    @Test func renumberingOverADeletionIsFound() async throws {
        _ = try await filledLog(20)
        try edit("DELETE FROM audit_records WHERE sequence = 9")
        try edit("UPDATE audit_records SET sequence = sequence - 1 WHERE sequence > 9")
        #expect(try await verify().problem == .modified(sequence: 9))
    }

    @Test func swappedRecordsAreFound() async throws {
        _ = try await filledLog(20)
        try edit(
            """
            UPDATE audit_records SET sequence = -1 WHERE sequence = 5;
            UPDATE audit_records SET sequence = 5 WHERE sequence = 6;
            UPDATE audit_records SET sequence = 6 WHERE sequence = -1;
            """)
        #expect(try await verify().problem == .modified(sequence: 5))
    }

    @Test func deletingTheNewestRecordsIsFound() async throws {
        _ = try await filledLog(20)
        try edit("DELETE FROM audit_records WHERE sequence > 17")
        #expect(try await verify().problem == .truncated(head: 20, last: 17))
    }

    @Test func deletingTheOldestRecordsIsFound() async throws {
        _ = try await filledLog(20)
        try edit("DELETE FROM audit_records WHERE sequence < 4")
        #expect(try await verify().problem == .missingStart(first: 4))
    }

    @Test func aForgedHeadFileIsFound() async throws {
        _ = try await filledLog(5)
        try Data("5 \(String(repeating: "00", count: 32)) \(String(repeating: "00", count: 32))\n".utf8)
            .write(to: URL(fileURLWithPath: head.path))
        #expect(try await verify().problem == .headInvalid)
    }

    /// One fixed-length line, overwritten in place (no rename, no fsync): a longer file is cut to it.
    @Test func theHeadIsOneLineOverwrittenInPlace() async throws {
        let log = try await filledLog(5)
        #expect(try FileManager.default.attributesOfItem(atPath: head.path)[.size] as? Int == AuditHead.lineLength)
        let handle = try #require(FileHandle(forWritingAtPath: head.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(String(repeating: "x", count: 500).utf8))
        try handle.close()
        log.record(record(6))
        await log.commitPending()
        #expect(try FileManager.default.attributesOfItem(atPath: head.path)[.size] as? Int == AuditHead.lineLength)
        let result = try await verify()
        #expect(result.isIntact && result.lastSequence == 6)
    }

    @Test func retentionLeavesAVerifiableLog() async throws {
        let log = try await filledLog(30)
        // From here the log's own writer commits (the retention record waits for it).
        Task { try await log.run() }
        let clock = FixedClock(milliseconds: 1_800_000_000_000 + 86_400_000 + 16)
        let retention = AuditRetention(
            store: database, log: log, retentionDays: 1, clock: clock, logger: Logger(label: "test"))
        #expect(try await retention.sweep() == 15)
        let result = try await verify()
        #expect(result.isIntact, "\(String(describing: result.problem))")
        #expect(result.checked == 16)
    }

    /// The real store, but the answer to the first append is lost after it committed (PostgreSQL's connection
    /// breaking at that moment).
    final class AnswerLost: AuditStore {
        let store: any AuditStore
        let lost = Mutex(false)

        init(_ store: any AuditStore) { self.store = store }

        func appendAuditRecords(
            linking link:
                @escaping @Sendable ((sequence: Int64, chainHash: [UInt8])?) -> [(
                    record: AuditRecord, chainHash: [UInt8]
                )]
        ) async throws -> (sequence: Int64, chainHash: [UInt8])? {
            let end = try await store.appendAuditRecords(linking: link)
            if lost.withLock({ $0 }) { return end }
            lost.withLock { $0 = true }
            throw WardenError(.storeUnavailable, "The connection closed before the commit's answer.")
        }
        func auditRecords(_ filter: AuditFilter, _ range: AuditRange, limit: Int) async throws -> [AuditRecord] {
            try await store.auditRecords(filter, range, limit: limit)
        }
        func auditChain(after sequence: Int64, limit: Int) async throws -> [(record: AuditRecord, chainHash: [UInt8])] {
            try await store.auditChain(after: sequence, limit: limit)
        }
        func deleteAuditRecords(before at: Int64, limit: Int) async throws -> (sequence: Int64, chainHash: [UInt8])? {
            try await store.deleteAuditRecords(before: at, limit: limit)
        }
    }

    /// A batch whose commit's answer was lost is not stored again when the writer tries it again: each record
    /// once, and the chain goes on from it.
    @Test func aBatchWhoseAnswerWasLostIsStoredOnce() async throws {
        let store = AnswerLost(database)
        let log = try await AuditLog(
            store: store, chain: chain, head: head, bufferLimit: 100, clock: SystemClock(),
            logger: Logger(label: "test"))
        for index in 1...3 { log.record(record(index)) }
        await log.commitPending()
        #expect(store.lost.withLock { $0 })
        log.record(record(4))
        await log.commitPending()
        let stored = try await database.auditRecords(AuditFilter(), before: nil, limit: 10)
        #expect(stored.map(\.sequence) == [4, 3, 2, 1])
        #expect(try await verify().isIntact)
    }

    @Test func aFullBufferDropsAndSaysSoInTheChain() async throws {
        let log = try await AuditLog(
            store: database, chain: chain, head: head, bufferLimit: 3, clock: SystemClock(),
            logger: Logger(label: "test"))
        for index in 1...5 { log.record(record(index)) }
        await log.commitPending()
        let records = try await database.auditRecords(AuditFilter(), before: nil, limit: 10)
        #expect(records.count == 4)
        #expect(records.first?.action == "audit.records_dropped" && records.first?.details["count"] == "2")
        #expect(try await verify().isIntact)
    }

    @Test func detailsKeepEveryCharacter() async throws {
        let log = try await filledLog(1)
        let details = [
            "quote": "say \"hi\"", "slash": "a\\b/c", "lines": "one\ntwo\r\tthree", "control": "\u{01}\u{1f}",
            "unicode": "Zürich ✓ 🚀", "": "empty key",
        ]
        log.record(
            AuditRecord(
                at: 1, tenant: nil, actorKind: "system", actor: "t", sourceIP: "-", action: "x", target: "y",
                outcome: .success, details: details))
        await log.commitPending()
        #expect(try await database.auditRecords(AuditFilter(), before: nil, limit: 1).first?.details == details)
        #expect(try await verify().isIntact)
    }

    /// A device chooses its topics (up to 64 KiB) and a client its ClientId: each text field is kept to 1 KiB,
    /// cut on a whole character and saying how much was cut, so that a record stays small; the chain holds.
    @Test func longFieldsAreCutWhenRecorded() async throws {
        let log = try await filledLog(1)
        let topic = "deny/" + String(repeating: "ä", count: 40_000)
        log.record(
            AuditRecord(
                at: 1, tenant: nil, actorKind: "device", actor: String(repeating: "c", count: 65_535), sourceIP: "-",
                action: "mqtt.publish", target: topic, outcome: .denied, details: ["topic": topic]))
        await log.commitPending()
        let stored = try #require(try await database.auditRecords(AuditFilter(), before: nil, limit: 1).first)
        #expect(stored.actor == String(repeating: "c", count: 1024) + "… (64511 more bytes)")
        #expect(stored.target.hasPrefix("deny/ää") && !stored.target.contains("\u{FFFD}"))
        let kept = "deny/" + String(repeating: "ä", count: 509)
        #expect(stored.target == kept + "… (\(topic.utf8.count - kept.utf8.count) more bytes)")
        #expect(stored.details["topic"] == stored.target)
        #expect(try await verify().isIntact)
    }

    @Test func queriesFilterAndPage() async throws {
        let log = try await filledLog(10)
        log.record(record(11, tenant: "other"))
        await log.commitPending()
        let other = try await database.auditRecords(
            AuditFilter(tenant: try TenantID("other")), before: nil, limit: 10)
        #expect(other.map(\.sequence) == [11])
        let page = try await database.auditRecords(AuditFilter(tenant: .defaultTenant), before: 6, limit: 3)
        #expect(page.map(\.sequence) == [5, 4, 3])
        let ranged = try await database.auditRecords(
            AuditFilter(from: 1_800_000_000_002, to: 1_800_000_000_004), before: nil, limit: 10)
        #expect(ranged.map(\.sequence) == [3, 2])
    }
}

struct FixedClock: WardenClock {
    let milliseconds: Int64
    func now() -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
}
