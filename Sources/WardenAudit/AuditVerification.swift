import WardenCore
public import WardenStore

/// Walks the whole chain and says whether every record is as it was written.
public struct AuditVerification: Sendable, Hashable, Codable {
    /// The first thing found wrong.
    public enum Problem: Error, Sendable, Hashable, Codable {
        /// The record's link does not follow from its content and the link before it: it, or an earlier
        /// record, was changed, inserted or moved.
        case modified(sequence: Int64)
        /// Records are missing between two that remain.
        case missing(after: Int64, next: Int64)
        /// The newest records are gone: the head file names a later record than the log holds, or a
        /// different link for it.
        case truncated(head: Int64, last: Int64)
        /// The oldest records are gone without a retention record saying so.
        case missingStart(first: Int64)
        /// The head file does not carry a valid MAC.
        case headInvalid
    }

    /// Records checked.
    public let checked: Int
    /// The last sequence checked (0 for an empty log).
    public let lastSequence: Int64
    /// Nil when the chain is intact.
    public let problem: Problem?

    public var isIntact: Bool { problem == nil }

    /// Verifies the log in `store` under `chain`, comparing its end with `head` when given.
    public static func run(store: any AuditStore, chain: AuditChain, head: AuditHead?) async throws
        -> AuditVerification
    {
        var checked = 0
        var previousSequence: Int64 = 0
        var previousLink = AuditChain.genesis
        var cursor: Int64 = 0
        func result(_ problem: Problem?) -> AuditVerification {
            AuditVerification(checked: checked, lastSequence: previousSequence, problem: problem)
        }
        while true {
            let batch = try await store.auditChain(after: cursor, limit: 10_000)
            guard let lastInBatch = batch.last else { break }
            cursor = lastInBatch.record.sequence
            for (record, link) in batch {
                if checked == 0, record.sequence != 1 {
                    // Retention removed the oldest records; the newest retention record names the last one.
                    guard let anchor = try await retentionAnchor(store), anchor.through == record.sequence &- 1 else {
                        return result(.missingStart(first: record.sequence))
                    }
                    previousSequence = anchor.through
                    previousLink = anchor.link
                }
                guard record.sequence == previousSequence &+ 1 else {
                    return result(.missing(after: previousSequence, next: record.sequence))
                }
                guard chain.link(record, after: previousLink) == link else {
                    return result(.modified(sequence: record.sequence))
                }
                checked += 1
                previousSequence = record.sequence
                previousLink = link
            }
        }
        do {
            if let stored = try head?.read(chain: chain) {
                if stored.sequence > previousSequence {
                    return result(.truncated(head: stored.sequence, last: previousSequence))
                }
                // The head may lag the log by a batch (a crash between commit and file write), never lead it.
                let atHead = try await store.auditChain(after: stored.sequence - 1, limit: 1).first
                if atHead?.chainHash != stored.link {
                    return result(.truncated(head: stored.sequence, last: previousSequence))
                }
            }
        } catch let problem as Problem {
            return result(problem)
        }
        return result(nil)
    }

    private static func retentionAnchor(_ store: any AuditStore) async throws -> (through: Int64, link: [UInt8])? {
        // total: parses text: nil unless a number in range.
        guard
            let record = try await store.auditRecords(AuditFilter(action: AuditRetention.action), before: nil, limit: 1)
                .first,
            let through = record.details["through"].flatMap({ Int64($0) }),
            let link = record.details["link"].flatMap(AuditHead.bytes)
        else { return nil }
        return (through, link)
    }
}
