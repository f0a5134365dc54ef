import Foundation
import WardenAudit
import WardenCore

/// An audit record as the API shows it.
public struct AuditRecordResource: Codable, Sendable {
    public let sequence: Int64
    public let at: String
    public let tenant: String?
    public let actorKind: String
    public let actor: String
    public let sourceIP: String
    public let action: String
    public let target: String
    public let outcome: String
    public let reason: String?
    public let referenceId: String?
    public let details: [String: String]

    init(_ record: AuditRecord) {
        sequence = record.sequence
        at = UTCTimestamp.string(milliseconds: record.at)
        tenant = record.tenant?.rawValue
        actorKind = record.actorKind
        actor = record.actor
        sourceIP = record.sourceIP
        action = record.action
        target = record.target
        outcome = record.outcome.rawValue
        reason = record.reason
        referenceId = record.referenceID
        details = record.details
    }
}

/// The answer of `POST /api/v1/audit/verify`.
public struct AuditVerificationResource: Codable, Sendable {
    public let intact: Bool
    public let checked: Int
    public let lastSequence: Int64
    public let problem: String?
    public let sequence: Int64?

    init(_ result: AuditVerification) {
        intact = result.isIntact
        checked = result.checked
        lastSequence = result.lastSequence
        switch result.problem {
        case nil:
            (problem, sequence) = (nil, nil)
        case .modified(let at):
            (problem, sequence) = ("Record \(at) was modified, inserted or moved.", at)
        case .missing(let after, let next):
            (problem, sequence) = ("Records between \(after) and \(next) are missing.", after + 1)
        case .truncated(let head, let last):
            (problem, sequence) = (
                "The log ends at \(last) but the head file names \(head): newest records were removed.", last + 1
            )
        case .missingStart(let first):
            (problem, sequence) = (
                "The log starts at \(first) without a retention record: oldest records were removed.", first
            )
        case .headInvalid:
            (problem, sequence) = ("The head file's MAC does not hold.", nil)
        }
    }
}
