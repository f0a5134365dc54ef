import Foundation
import Hummingbird
import WardenAPI
import WardenAudit
import WardenCore
import WardenHub
import WardenRegistry
import WardenSecurity

extension Pages {
    struct AuditRow {
        let sequence: Int64
        let at: String
        let tenant: String
        let actor: String
        let sourceIP: String
        let action: String
        let target: String
        let outcome: String
        let reason: String?
        let details: String
    }

    struct OutcomeChoice {
        let name: String
        let selected: Bool
    }

    struct AuditPage {
        let tenant: String?
        let action: String
        let actor: String
        let actionFilter: String
        let outcomes: [OutcomeChoice]
        let records: [AuditRow]
        let next: String?
    }

    var auditRoutes: [PortalRoute] {
        [
            PortalRoute(.get, "/t/{tenant}/audit", "audit", permission: .auditRead) { request, portal in
                try await auditPage(request, portal, tenant: try portal.requireTenant())
            },
            PortalRoute(.get, "/audit", "platformAudit", permission: .platformManage) { request, portal in
                try await auditPage(request, portal, tenant: nil)
            },
        ]
    }

    private func auditPage(_ request: Request, _ portal: PortalRequest, tenant: TenantID?) async throws -> Response {
        portal.context.audit.set { $0.isSensitiveRead = true }
        let query = request.uri.queryParameters
        func text(_ name: String) -> String { query.get(name).map { String($0) } ?? "" }
        var filter = AuditFilter(tenant: tenant)
        filter.actor = text("actor").isEmpty ? nil : text("actor")
        filter.action = text("action").isEmpty ? nil : text("action")
        filter.outcome = AuditRecord.Outcome(rawValue: text("outcome"))
        // total: parses text: nil unless a number in range.
        let before = Int64(text("before"))
        let records = try await dependencies.auditReader.records(filter, before: before, limit: 100)
        let path = request.uri.path
        var next: String?
        if records.count == 100, let last = records.last {
            let kept = ["actor", "action", "outcome"].compactMap { name in
                text(name).isEmpty ? nil : "\(name)=\(Self.segment(text(name)))"
            }
            next = path + "?" + (kept + ["before=\(last.sequence)"]).joined(separator: "&")
        }
        let rows = records.map { record in
            AuditRow(
                sequence: record.sequence, at: UTCTimestamp.string(milliseconds: record.at),
                tenant: record.tenant?.rawValue ?? "-", actor: "\(record.actorKind):\(record.actor)",
                sourceIP: record.sourceIP, action: record.action, target: record.target,
                outcome: record.outcome.rawValue, reason: record.reason,
                details: record.details.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                    .joined(separator: "; "))
        }
        let page = AuditPage(
            tenant: tenant?.rawValue, action: path, actor: text("actor"), actionFilter: text("action"),
            outcomes: AuditRecord.Outcome.allCases.map {
                OutcomeChoice(name: $0.rawValue, selected: $0 == filter.outcome)
            },
            records: rows, next: next)
        return self.page("audit", page, title: "Audit log", request, portal)
    }
}
