import Foundation
import WardenCore

/// Rows of `audit_records` as domain values, for both engines.
enum AuditRows {
    static func record(_ row: some StoreRow) throws -> AuditRecord {
        guard let outcome = AuditRecord.Outcome(rawValue: try row.value("outcome")) else {
            throw WardenError(.storeUnavailable, "A stored audit outcome is not known.")
        }
        return AuditRecord(
            sequence: try row.value("sequence"), at: try row.value("at"),
            tenant: try (row.value("tenant_id") as String?).map(TenantID.init), actorKind: try row.value("actor_kind"),
            actor: try row.value("actor"), sourceIP: try row.value("source_ip"), action: try row.value("action"),
            target: try row.value("target"), outcome: outcome, reason: try row.value("reason"),
            referenceID: try row.value("reference_id"),
            details: try JSONColumn.decode([String: String].self, try row.value("details"), column: "details"))
    }

    static func link(_ row: some StoreRow) throws -> (sequence: Int64, chainHash: [UInt8]) {
        (try row.value("sequence"), Array(try row.value("chain_hash") as Data))
    }

    /// A filter's conditions in a range as (column, operator, value), in one order for both engines' placeholders.
    static func conditions(_ filter: AuditFilter, _ range: AuditRange) -> [(String, AuditValue)] {
        var conditions: [(String, AuditValue)] = []
        if let tenant = filter.tenant { conditions.append(("tenant_id =", .text(tenant.rawValue))) }
        if let actor = filter.actor { conditions.append(("actor =", .text(actor))) }
        if let action = filter.action { conditions.append(("action =", .text(action))) }
        if let outcome = filter.outcome { conditions.append(("outcome =", .text(outcome.rawValue))) }
        if let from = filter.from { conditions.append(("at >=", .number(from))) }
        if let to = filter.to { conditions.append(("at <", .number(to))) }
        if let reference = filter.referenceID { conditions.append(("reference_id =", .text(reference))) }
        switch range {
        case .newestBefore(let cursor):
            if let cursor { conditions.append(("sequence <", .number(cursor))) }
        case .oldestAfter(let cursor, let last):
            conditions += [("sequence >", .number(cursor)), ("sequence <=", .number(last))]
        }
        return conditions
    }

    /// The range's order of `sequence`.
    static func order(_ range: AuditRange) -> String {
        switch range {
        case .newestBefore: "DESC"
        case .oldestAfter: "ASC"
        }
    }

    enum AuditValue {
        case text(String)
        case number(Int64)
    }
}
