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
    /// The most records one transaction carries.
    static let maximumBatch = 10_000

    private struct State {
        var pending: [AuditRecord] = []
        var nextSequence: Int64
        var lastLink: [UInt8]
        var committedSequence: Int64
        var dropped = 0
        var waiters: [(sequence: Int64, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let store: any AuditStore
    private let chain: AuditChain
    private let head: AuditHead?
    private let bufferLimit: Int
    private let clock: any WardenClock
    private let logger: Logger
    private let state: Mutex<State>
    private let wakeUps: AsyncStream<Void>
    private let wakeUp: AsyncStream<Void>.Continuation
    private let appended = Counter(label: "warden_audit_records_total")
    private let droppedCounter = Counter(label: "warden_audit_records_dropped_total")
    private let writeFailures = Counter(label: "warden_store_write_failures_total", dimensions: [("writer", "audit")])
    /// Set while the last attempt to store a batch failed, cleared by the next that succeeds.
    private let isFailing = Atomic(false)

    /// Whether the log's last write succeeded: while it is failing (a full disk), the API refuses changes it
    /// could not record rather than making them and waiting.
    public var canWrite: Bool { !isFailing.load(ordering: .relaxed) }

    /// Opens the log where the store's chain ends.
    public init(
        store: any AuditStore, chain: AuditChain, head: AuditHead?, bufferLimit: Int, clock: any WardenClock,
        logger: Logger
    ) async throws {
        let last = try await store.lastAuditChainLink()
        self.store = store
        self.chain = chain
        self.head = head
        self.bufferLimit = bufferLimit
        self.clock = clock
        self.logger = logger
        self.state = Mutex(
            State(
                nextSequence: (last?.sequence ?? 0) &+ 1, lastLink: last?.chainHash ?? AuditChain.genesis,
                committedSequence: last?.sequence ?? 0))
        (wakeUps, wakeUp) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Appends `record` to the next batch without waiting; returns its sequence (0 when the buffer was full).
    @discardableResult
    public func record(_ record: AuditRecord) -> Int64 {
        let sequence = state.withLock { state -> Int64 in
            guard state.pending.count < bufferLimit else {
                state.dropped += 1
                return 0
            }
            return Self.enqueue(record, &state)
        }
        if sequence == 0 { droppedCounter.increment() }
        wakeUp.yield()
        return sequence
    }

    /// Appends `record` and returns once it is committed. Admin actions use this: never dropped, the buffer
    /// limit does not apply to them (they are few and the caller waits).
    public func recordDurably(_ record: AuditRecord) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            state.withLock { state in
                let sequence = Self.enqueue(record, &state)
                state.waiters.append((sequence, continuation))
            }
            wakeUp.yield()
        }
    }

    private static func enqueue(_ record: AuditRecord, _ state: inout State) -> Int64 {
        var record = record
        record.sequence = state.nextSequence
        state.nextSequence &+= 1  // continues the file's last sequence, whatever it holds
        state.pending.append(record)
        return record.sequence
    }

    public func run() async throws {
        for await _ in wakeUps.cancelOnGracefulShutdown() {
            await commitPending()
        }
        await commitPending()
    }

    /// Commits batches until nothing is pending; a failing store is retried every second.
    func commitPending() async {
        while true {
            let now = clock.nowMilliseconds()
            let (batch, previous) = state.withLock { state -> ([AuditRecord], [UInt8]) in
                if state.dropped > 0 {
                    let notice = AuditRecord(
                        at: now, tenant: nil, actorKind: "system", actor: "warden", sourceIP: "-",
                        action: "audit.records_dropped", target: "audit", outcome: .failure,
                        reason: "audit.buffer_full", details: ["count": "\(state.dropped)"])
                    state.dropped = 0
                    _ = Self.enqueue(notice, &state)
                }
                let count = min(state.pending.count, Self.maximumBatch)
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return (batch, state.lastLink)
            }
            guard !batch.isEmpty else { return }
            var link = previous
            let linked = batch.map { record in
                link = chain.link(record, after: link)
                return (record: record, chainHash: link)
            }
            while true {
                do {
                    try await store.appendAuditRecords(linked)
                    isFailing.store(false, ordering: .relaxed)
                    break
                } catch {
                    isFailing.store(true, ordering: .relaxed)
                    writeFailures.increment()
                    logger.error("Cannot store audit records; retrying.", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            let last = batch[batch.count - 1].sequence
            head?.write(sequence: last, link: link, chain: chain, logger: logger)
            appended.increment(by: batch.count)
            let ready = state.withLock { state in
                state.lastLink = link
                state.committedSequence = last
                let ready = state.waiters.filter { $0.sequence <= last }
                state.waiters.removeAll { $0.sequence <= last }
                return ready
            }
            for waiter in ready { waiter.continuation.resume() }
        }
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
