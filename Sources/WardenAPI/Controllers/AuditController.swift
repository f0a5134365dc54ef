import Foundation
import Hummingbird
import WardenAudit
import WardenCore

/// `/api/v1/audit` (platform administrators: every record), `/api/v1/tenants/{tenant}/audit` (a tenant's
/// auditors), JSON Lines export, and chain verification. Reading the log is itself recorded.
struct AuditController {
    let reader: AuditReader
    let clock: any WardenClock

    /// The records read per store query while exporting.
    static let exportBatch = 1000

    private static let tenantFilter = QueryParameter(
        name: "tenant", schema: ["type": "string"], description: "Only this tenant's records.")

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, "/api/v1/audit", "queryAudit", "Every audit record, newest first (platform administrators)",
                permission: .platformManage, success: (200, "AuditRecordList"),
                query: QueryParameter.auditFilters + [Self.tenantFilter]
            ) { request, context in
                try await page(request, context, tenant: nil)
            },
            APIRoute(
                .get, "/api/v1/audit/export", "exportAudit", "Every audit record as JSON Lines, oldest first",
                permission: .platformManage, success: (200, nil),
                query: QueryParameter.auditFilters + [Self.tenantFilter]
            ) { request, context in
                try await export(request, context, tenant: nil)
            },
            APIRoute(
                .post, "/api/v1/audit/verify", "verifyAudit",
                "Walk the hash chain: any modified, deleted or reordered record is reported",
                permission: .platformManage, success: (200, "AuditVerification")
            ) { _, context in
                let result = try await reader.verify()
                context.auditDetail("intact", "\(result.isIntact)")
                return try JSONResponse.make(AuditVerificationResource(result))
            },
            APIRoute(
                .get, "/api/v1/tenants/{tenant}/audit", "queryTenantAudit", "The tenant's audit records, newest first",
                permission: .auditRead, success: (200, "AuditRecordList"), query: QueryParameter.auditFilters
            ) { request, context in
                try await page(request, context, tenant: try request.tenantID(context))
            },
            APIRoute(
                .get, "/api/v1/tenants/{tenant}/audit/export", "exportTenantAudit",
                "The tenant's audit records as JSON Lines, oldest first", permission: .auditRead, success: (200, nil),
                query: QueryParameter.auditFilters
            ) { request, context in
                try await export(request, context, tenant: try request.tenantID(context))
            },
        ]
    }

    private func page(_ request: Request, _ context: APIRequestContext, tenant: TenantID?) async throws -> Response {
        context.audit.set { $0.isSensitiveRead = true }
        let filter = try self.filter(request, tenant: tenant)
        let (cursor, limit) = try request.pagination
        let before = try cursor.map { text -> Int64 in
            // total: parses text: nil unless a number in range.
            guard let value = Int64(text) else { throw WardenError(.requestInvalidCursor, "The cursor is not valid.") }
            return value
        }
        let records = try await reader.records(filter, before: before, limit: limit)
        let next = records.count == limit ? records.last.map { "\($0.sequence)" } : nil
        return try JSONResponse.make(
            ListResource(items: records.map(AuditRecordResource.init), nextCursor: PageCursor.encode(next)))
    }

    private func export(_ request: Request, _ context: APIRequestContext, tenant: TenantID?) async throws -> Response {
        context.audit.set { $0.isSensitiveRead = true }
        let filter = try self.filter(request, tenant: tenant)
        let reader = self.reader
        // Oldest first, a page written before the next is read (a client that stops reading holds one page), up to
        // the newest record when the export began (records added meanwhile, its own among them, do not prolong it).
        let body = ResponseBody { writer in
            var after = Int64.min
            if let last = try await reader.records(filter, before: nil, limit: 1).first?.sequence {
                while true {
                    let records = try await reader.records(filter, after: after, through: last, limit: Self.exportBatch)
                    if !records.isEmpty {
                        try await writer.write(
                            ByteBuffer(
                                string: try records.map { try JSONResponse.line(AuditRecordResource($0)) }.joined()))
                    }
                    guard records.count == Self.exportBatch, let next = records.last?.sequence else { break }
                    after = next
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/jsonl"], body: body)
    }

    private func filter(_ request: Request, tenant: TenantID?) throws -> AuditFilter {
        let query = request.uri.queryParameters
        let now = clock.now()
        var filter = AuditFilter(tenant: tenant)
        filter.actor = query.get("actor").map { String($0) }
        filter.action = query.get("action").map { String($0) }
        filter.referenceID = query.get("reference").map { String($0) }
        if let text = query.get("outcome") {
            guard let outcome = AuditRecord.Outcome(rawValue: String(text)) else {
                throw WardenError(.requestInvalidQuery, "'outcome' must be success, denied or failure.")
            }
            filter.outcome = outcome
        }
        filter.from = try query.get("from").map { try TimeBound.milliseconds(String($0), name: "from", now: now) }
        filter.to = try query.get("to").map { try TimeBound.milliseconds(String($0), name: "to", now: now) }
        if tenant == nil, let text = query.get("tenant") { filter.tenant = try TenantID(String(text)) }
        return filter
    }
}
