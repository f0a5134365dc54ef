import Foundation
public import Logging
import Metrics
public import ServiceLifecycle
import Synchronization
public import WardenCore
public import WardenStore

/// The append-only audit log: records are numbered as they arrive, chained and committed in batches by one
/// writer, so the device path only appends to memory.
///
/// Admin actions wait for their record's commit (`recordDurably`), so an API answer means the record is on
/// disk; device authentication outcomes do not wait. The buffer is bounded: when it is full records are
/// dropped and counted, and the next batch carries an `audit.records_dropped` record saying how many, so the
/// gap is itself in the chain.
public final class AuditLog: Service, Sendable {
    private let writer: GroupCommitWriter<AuditRecord>
    private let dropped = Counter(label: "warden_audit_records_dropped_total")

    /// Whether the log's last write succeeded: while it is failing (a full disk), the API refuses changes it
    /// could not record rather than making them and waiting.
    public var canWrite: Bool { writer.canWrite }

    /// Opens the log. Records are numbered and chained inside the store's transaction, after whatever the
    /// store's chain ends with then, so several nodes writing one store keep one chain.
    public init(
        store: any AuditStore, chain: AuditChain, head: AuditHead?, bufferLimit: Int, clock: any WardenClock,
        logger: Logger
    ) async throws {
        let appended = Counter(label: "warden_audit_records_total")
        let writeFailures = Counter(label: "warden_store_write_failures_total", dimensions: [("writer", "audit")])
        let tried = TriedBatch()
        writer = GroupCommitWriter(
            bufferLimit: bufferLimit,
            store: { batch in
                let records = batch
                // A retry of a batch whose commit's answer was lost (PostgreSQL's connection broke around it): if
                // its last record is stored as linked, the batch is, and is not stored twice.
                if let last = tried.last(of: records),
                    let stored = try await store.auditChain(after: last.sequence &- 1, limit: 1).first,
                    stored.record.sequence == last.sequence, stored.chainHash == last.chainHash
                {
                    tried.forget()
                    head?.write(sequence: last.sequence, link: last.chainHash, chain: chain, logger: logger)
                    appended.increment(by: batch.count)
                    return
                }
                let end = try await store.appendAuditRecords(linking: { end in
                    let linked = Self.linked(records, after: end, chain)
                    tried.note(records, last: linked.last.map { ($0.record.sequence, $0.chainHash) })
                    return linked
                })
                tried.forget()
                if let end { head?.write(sequence: end.sequence, link: end.chainHash, chain: chain, logger: logger) }
                appended.increment(by: batch.count)
            },
            failed: { error, _, _ in
                writeFailures.increment()
                logger.error("Cannot store audit records; retrying.", metadata: ["error": "\(error)"])
            },
            noticeOfDrops: { count, _ in
                AuditRecord(
                    at: clock.nowMilliseconds(), tenant: nil, actorKind: "system", actor: "warden", sourceIP: "-",
                    action: "audit.records_dropped", target: "audit", outcome: .failure, reason: "audit.buffer_full",
                    details: ["count": "\(count)"])
            })
    }

    /// `batch` numbered and chained after `end` (the genesis link for an empty log); sequences wrap, never trap.
    static func linked(
        _ batch: [AuditRecord], after end: (sequence: Int64, chainHash: [UInt8])?, _ chain: AuditChain
    ) -> [(record: AuditRecord, chainHash: [UInt8])] {
        var sequence = end?.sequence ?? 0
        var link = end?.chainHash ?? AuditChain.genesis
        return batch.map { record in
            var record = record
            sequence &+= 1
            record.sequence = sequence
            link = chain.link(record, after: link)
            return (record, link)
        }
    }

    /// Appends `record` to the next batch without waiting; false when the buffer was full (the next batch then
    /// carries an `audit.records_dropped` record saying how many were).
    @discardableResult
    public func record(_ record: AuditRecord) -> Bool {
        let record = record.bounded()
        guard writer.record(ifRoom: true, { _ in record }) != nil else {
            dropped.increment()
            return false
        }
        return true
    }

    /// Appends `record` and returns once it is committed. Admin actions use this: never dropped, the buffer
    /// limit does not apply to them (they are few and the caller waits).
    public func recordDurably(_ record: AuditRecord) async {
        let record = record.bounded()
        if let ticket = writer.record({ _ in record }) { await writer.committed(ticket) }
    }

    public func run() async throws {
        for await _ in writer.wakeUps.cancelOnGracefulShutdown() {
            await writer.commitPending()
        }
        await writer.commitPending()
    }

    /// Commits what is pending now (tests; the service loop does this on every wake-up).
    func commitPending() async {
        await writer.commitPending()
    }
}

/// The batch the audit log's writer last tried to store and the link its last record got then, until it is known
/// to be stored.
private final class TriedBatch: Sendable {
    private let state = Mutex<(records: [AuditRecord], sequence: Int64, chainHash: [UInt8])?>(nil)

    func note(_ records: [AuditRecord], last: (sequence: Int64, chainHash: [UInt8])?) {
        state.withLock { $0 = last.map { (records, $0.sequence, $0.chainHash) } }
    }

    /// The link `records`' last record got when they were last tried, if they were.
    func last(of records: [AuditRecord]) -> (sequence: Int64, chainHash: [UInt8])? {
        state.withLock { tried in tried.flatMap { $0.records == records ? ($0.sequence, $0.chainHash) : nil } }
    }

    func forget() {
        state.withLock { $0 = nil }
    }
}

/// The last committed link, kept in a file beside the database with a MAC, so that deleting the newest
/// records (which leaves an intact but shorter chain) is detected too.
///
/// Rewritten in place after every batch, without an fsync: one fixed-length record at offset 0, inside one
/// disk sector, so that a crash leaves the old or the new line, never a torn one. The database commits (and
/// syncs) each batch before its head is written, so the head may lag the log after a power loss, which
/// verification accepts, but never leads it. (An atomic rename with fsync per batch was 16 % of the
/// broker's CPU during a connect storm.)
public struct AuditHead: Sendable {
    public let path: String
    /// The line's length, padded with spaces: a sequence, two 64-digit hex values and separators fit.
    static let lineLength = 192

    public init(path: String) {
        self.path = path
    }

    func write(sequence: Int64, link: [UInt8], chain: AuditChain, logger: Logger) {
        let text = "\(sequence) \(Self.hex(link)) \(Self.hex(chain.seal(head: sequence, link: link)))"
        // total: the count is at least 0.
        let line =
            Array((text + String(repeating: " ", count: max(0, Self.lineLength - 1 - text.utf8.count))).utf8)
            + [UInt8(ascii: "\n")]
        // Opened each time, so that a file replaced under us (a restore) is the one written.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        defer { if descriptor >= 0 { close(descriptor) } }
        let written =
            descriptor >= 0 && line.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) } == line.count
            // A longer file (an older format, an edit) would keep a tail after the line.
            && ftruncate(descriptor, off_t(line.count)) == 0
        if !written {
            logger.error("Cannot write the audit head file.", metadata: ["file": "\(path)", "errno": "\(errno)"])
        }
    }

    /// The sequence and link the file names, when its MAC holds; nil when there is no file.
    func read(chain: AuditChain) throws(AuditVerification.Problem) -> (sequence: Int64, link: [UInt8])? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let parts = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        // total: parses text: nil unless a number in range.
        guard parts.count == 3, let sequence = Int64(parts[0]), let link = Self.bytes(parts[1]),
            let mac = Self.bytes(parts[2]), chain.seal(head: sequence, link: link) == mac
        else { throw .headInvalid }
        return (sequence, link)
    }

    static func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }

    static func bytes(_ text: some StringProtocol) -> [UInt8]? { Hex.decode(text) }
}
