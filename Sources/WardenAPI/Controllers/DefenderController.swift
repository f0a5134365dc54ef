import Foundation
import Hummingbird
import WardenCore
import WardenDefender
import WardenRegistry

/// `/api/v1/bans` and `/api/v1/defender/alerts` (platform administrators; docs/defender.md).
struct DefenderController {
    let defender: DefenderService
    let webhook: AlertWebhook?
    let registry: RegistryService

    private static let statusFilter = QueryParameter(
        name: "status", schema: ["enum": .array(Alert.Status.allCases.map { .string($0.rawValue) })],
        description: "Only alerts in this state.")

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, "/api/v1/bans", "listBans", "The bans in force, oldest first", permission: .platformManage,
                success: (200, "BanList")
            ) { _, _ in
                try JSONResponse.make(
                    ListResource(items: defender.bans().map(BanResource.init), nextCursor: nil))
            },
            APIRoute(
                .post, "/api/v1/bans", "createBan",
                "Ban an address or CIDR (before TLS), a client id or a device ({tenant}/{device}), for a while or until removed",
                permission: .platformManage, request: "CreateBan", success: (201, "Ban")
            ) { request, context in
                let body = try await request.decodeJSON(CreateBanRequest.self, context)
                let ban = try await defender.addBan(
                    try Ban.Subject(kind: body.kind, value: body.value),
                    reason: body.reason ?? "Banned by an operator.",
                    lifetime: body.ttlSeconds.map(TimeInterval.init), by: try context.author())
                context.auditDetail("after", "\(ban.id) \(ban.subject)")
                return try JSONResponse.make(BanResource(ban), status: .created)
            },
            APIRoute(
                .delete, "/api/v1/bans/{ban}", "removeBan", "Lift a ban", permission: .platformManage,
                success: (204, nil)
            ) { request, context in
                let ban = try await defender.removeBan(try request.parameter("ban", context))
                context.auditDetail("before", "\(ban.id) \(ban.subject)")
                return JSONResponse.noContent()
            },
            APIRoute(
                .get, "/api/v1/tenants/{tenant}/bans", "listTenantBans", "The bans in force on the tenant's devices",
                permission: .registryRead, success: (200, "BanList")
            ) { request, context in
                let tenantID = try await existingTenant(request, context)
                return try JSONResponse.make(
                    ListResource(
                        items: defender.bans().filter { Self.isDeviceBan($0, of: tenantID) }.map(BanResource.init),
                        nextCursor: nil))
            },
            APIRoute(
                .post, "/api/v1/tenants/{tenant}/bans", "createTenantBan",
                "Ban one of the tenant's devices, for a while or until removed: refused by every protocol, its live connections closed",
                permission: .devicesControl, request: "CreateTenantBan", success: (201, "Ban")
            ) { request, context in
                let tenantID = try await existingTenant(request, context)
                let body = try await request.decodeJSON(CreateTenantBanRequest.self, context)
                let device = try await registry.device(tenantID, try DeviceID(body.deviceId))
                let ban = try await defender.addBan(
                    .device(tenantID, device.id), reason: body.reason ?? "Banned by an operator.",
                    lifetime: body.ttlSeconds.map(TimeInterval.init), by: try context.author())
                context.auditDetail("after", "\(ban.id) \(ban.subject)")
                return try JSONResponse.make(BanResource(ban), status: .created)
            },
            APIRoute(
                .delete, "/api/v1/tenants/{tenant}/bans/{ban}", "removeTenantBan",
                "Lift a ban on one of the tenant's devices",
                permission: .devicesControl, success: (204, nil)
            ) { request, context in
                let tenantID = try await existingTenant(request, context)
                let id = try request.parameter("ban", context)
                guard defender.bans().contains(where: { $0.id == id && Self.isDeviceBan($0, of: tenantID) }) else {
                    throw WardenError(.banNotFound, "There is no ban '\(id)' on a device of '\(tenantID)'.")
                }
                let ban = try await defender.removeBan(id)
                context.auditDetail("before", "\(ban.id) \(ban.subject)")
                return JSONResponse.noContent()
            },
            APIRoute(
                .get, "/api/v1/defender/alerts", "listAlerts", "Alerts, newest first (at most 1000)",
                permission: .platformManage, success: (200, "AlertList"), query: [Self.statusFilter]
            ) { request, _ in
                let status = try Self.status(request)
                return try JSONResponse.make(
                    ListResource(
                        items: try await defender.alerts(status: status).map(AlertResource.init), nextCursor: nil))
            },
            APIRoute(
                .get, "/api/v1/defender/webhook", "getAlertWebhook",
                "The alert webhook's deliveries: delivered, failed, dropped, pending, and the last error",
                permission: .platformManage, success: (200, "AlertWebhook")
            ) { _, _ in
                try JSONResponse.make(AlertWebhookResource(webhook))
            },
            APIRoute(
                .post, "/api/v1/defender/audit", "runAudit",
                "Run every audit check now: each finding names the resource, its severity, why it matters and how to fix it",
                permission: .platformManage, success: (200, "AuditReport")
            ) { _, context in
                let report = try await defender.audit()
                context.auditDetail("after", "audit \(report.id): \(report.findings.count) findings")
                return try JSONResponse.make(report)
            },
            APIRoute(
                .get, "/api/v1/defender/audit", "getAudit", "The newest audit report (scheduled or on demand)",
                permission: .platformManage, success: (200, "AuditReport")
            ) { _, _ in
                try JSONResponse.make(try await defender.latestAudit())
            },
            APIRoute(
                .get, "/api/v1/tenants/{tenant}/defender/audit", "getTenantAudit",
                "The newest audit report's findings about the tenant", permission: .policiesRead,
                success: (200, "AuditReport")
            ) { request, context in
                let tenantID = try await existingTenant(request, context)
                let report = try await defender.latestAudit()
                return try JSONResponse.make(
                    AuditReport(
                        id: report.id, startedAt: report.startedAt, finishedAt: report.finishedAt,
                        checks: report.checks, findings: report.findings.filter { $0.tenantID == tenantID.rawValue },
                        omitted: report.omitted.filter { $0.key.hasPrefix("\(tenantID)/") }))
            },
            route("acknowledge", .acknowledged),
            route("resolve", .resolved),
            tenantRoute("acknowledge", .acknowledged),
            tenantRoute("resolve", .resolved),
            APIRoute(
                .get, "/api/v1/tenants/{tenant}/defender/alerts", "listTenantAlerts",
                "The tenant's alerts, newest first (at most 1000)", permission: .policiesRead,
                success: (200, "AlertList"), query: [Self.statusFilter]
            ) { request, context in
                let tenantID = try await existingTenant(request, context)
                let status = try Self.status(request)
                return try JSONResponse.make(
                    ListResource(
                        items: try await defender.alerts(status: status, in: tenantID)
                            .map(AlertResource.init), nextCursor: nil))
            },
            APIRoute(
                .get, "/api/v1/defender/report", "getPostureReport",
                "The platform's security posture against NIST CSF 2.0: each function's tier and target, each category met, partly met or not met with its evidence, and the last 24 hours' activity",
                permission: .platformManage, success: (200, "PostureReport")
            ) { _, _ in
                try JSONResponse.make(try await defender.report(for: nil))
            },
            APIRoute(
                .get, "/api/v1/tenants/{tenant}/defender/report", "getTenantPostureReport",
                "The tenant's security posture against NIST CSF 2.0 and the target profile its rules document sets",
                permission: .policiesRead, success: (200, "PostureReport")
            ) { request, context in
                try JSONResponse.make(try await defender.report(for: try await existingTenant(request, context)))
            },
            APIRoute(
                .get, "/api/v1/tenants/{tenant}/quarantines", "listQuarantines", "The tenant's quarantined devices",
                permission: .registryRead, success: (200, "QuarantineList")
            ) { request, context in
                try JSONResponse.make(
                    ListResource(
                        items: try await defender.quarantines(in: try await existingTenant(request, context))
                            .map(QuarantineResource.init), nextCursor: nil))
            },
            APIRoute(
                .put, Self.quarantine, "quarantineDevice",
                "Raise a device's risk level: the shipped policy refuses its telemetry at high and critical, live",
                permission: .devicesControl, request: "Quarantine", success: (200, "QuarantinedDevice")
            ) { request, context in
                let body = try await request.decodeJSON(QuarantineRequest.self, context)
                let quarantine = try await defender.quarantine(
                    try DeviceID(try request.parameter("device", context)),
                    in: try await existingTenant(request, context),
                    level: body.level ?? "high", reason: body.reason ?? "Quarantined by an operator.",
                    by: try context.author())
                context.auditDetail("after", quarantine.level)
                return try JSONResponse.make(QuarantineResource(quarantine))
            },
            APIRoute(
                .delete, Self.quarantine, "releaseDevice", "Bring a quarantined device back to normal",
                permission: .devicesControl, success: (204, nil)
            ) { request, context in
                _ = try await defender.release(
                    try DeviceID(try request.parameter("device", context)),
                    in: try await existingTenant(request, context))
                return JSONResponse.noContent()
            },
            APIRoute(
                .post, "/api/v1/tenants/{tenant}/devices/{device}/disconnect", "disconnectDevice",
                "Close the device's live connections (it may connect again: disable or ban it to keep it out)",
                permission: .devicesControl, success: (202, nil)
            ) { request, context in
                let tenantID = try await existingTenant(request, context)
                let device = try await registry.device(tenantID, try DeviceID(try request.parameter("device", context)))
                defender.disconnect(device.id, in: tenantID, reason: "Disconnected by an operator.")
                return JSONResponse.accepted()
            },
            APIRoute(
                .get, "/api/v1/tenants/{tenant}/defender/inventory", "listInventory",
                "Every device: how it authenticates, its last connection (address, protocol, TLS version and cipher suite, client library, certificate expiry) and its learned data flows",
                permission: .registryRead, success: (200, "InventoryList")
            ) { request, context in
                let tenantID = try await existingTenant(request, context)
                let (cursor, limit) = try request.pagination
                let page = try await registry.devices(tenantID, after: cursor, limit: limit)
                let entries = try await defender.inventory(of: page.items, in: tenantID)
                return try JSONResponse.make(
                    ListResource(
                        items: entries.map(InventoryResource.init), nextCursor: PageCursor.encode(page.nextCursor)))
            },
            APIRoute(
                .get, Self.rules, "getDefenderRules",
                "The tenant's Defender rules document (null: none), and the rules in force with it",
                permission: .policiesRead, success: (200, "DefenderRulesState")
            ) { request, context in
                let tenantID = try await existingTenant(request, context)
                return try JSONResponse.make(
                    DefenderRulesResource(
                        document: try await defender.rulesDocument(for: tenantID), rules: defender.rules(for: tenantID))
                )
            },
            APIRoute(
                .put, Self.rules, "setDefenderRules",
                "Replace the tenant's Defender rules document: what it names changes the platform's rules",
                permission: .policiesManage, request: "DefenderRules", success: (200, "DefenderRulesState")
            ) { request, context in
                let tenantID = try await existingTenant(request, context)
                let body = try await request.collectBody(upTo: DeviceRules.maximumDocumentBytes)
                let text = String(decoding: body.readableBytesView, as: UTF8.self)
                let rules = try await defender.setRules(text, for: tenantID)
                context.auditDetail("after", text)
                return try JSONResponse.make(DefenderRulesResource(document: text, rules: rules))
            },
            APIRoute(
                .delete, Self.rules, "removeDefenderRules", "Go back to the platform's Defender rules",
                permission: .policiesManage, success: (204, nil)
            ) { request, context in
                _ = try await defender.setRules(nil, for: try await existingTenant(request, context))
                return JSONResponse.noContent()
            },
        ]
    }

    private static let quarantine = "/api/v1/tenants/{tenant}/devices/{device}/quarantine"
    private static let rules = "/api/v1/tenants/{tenant}/defender/rules"

    /// The path's tenant, which must exist: routes that read only the Defender's state would otherwise answer for
    /// any name (`tenant.not_found`).
    private func existingTenant(_ request: Request, _ context: APIRequestContext) async throws -> TenantID {
        let tenantID = try request.tenantID(context)
        _ = try await registry.tenant(tenantID)
        return tenantID
    }

    /// Whether `ban` is on a device of `tenantID` (what a tenant's own ban routes see).
    private static func isDeviceBan(_ ban: Ban, of tenantID: TenantID) -> Bool {
        if case .device(let tenant, _) = ban.subject { return tenant == tenantID }
        return false
    }

    /// The `status` query, when given.
    private static func status(_ request: Request) throws -> Alert.Status? {
        try request.uri.queryParameters["status"].map { text in
            guard let status = Alert.Status(rawValue: String(text)) else {
                throw WardenError(.requestInvalidQuery, "'status' is open, acknowledged or resolved.")
            }
            return status
        }
    }

    /// A tenant's administrators acknowledge or resolve their own tenant's alerts (`alert.not_found` for another's).
    private func tenantRoute(_ verb: String, _ status: Alert.Status) -> APIRoute {
        APIRoute(
            .post, "/api/v1/tenants/{tenant}/defender/alerts/{alert}/\(verb)", "\(verb)TenantAlert",
            "Mark one of the tenant's alerts \(status.rawValue)", permission: .policiesManage, success: (200, "Alert")
        ) { request, context in
            let tenantID = try await existingTenant(request, context)
            let alert = try await defender.setStatus(
                try request.parameter("alert", context), status, by: try context.author(), in: tenantID)
            context.auditDetail("after", "\(alert.id) \(alert.status.rawValue)")
            return try JSONResponse.make(AlertResource(alert))
        }
    }

    private func route(_ verb: String, _ status: Alert.Status) -> APIRoute {
        APIRoute(
            .post, "/api/v1/defender/alerts/{alert}/\(verb)", "\(verb)Alert", "Mark an alert \(status.rawValue)",
            permission: .platformManage, success: (200, "Alert")
        ) { request, context in
            let alert = try await defender.setStatus(
                try request.parameter("alert", context), status, by: try context.author())
            context.auditDetail("after", "\(alert.id) \(alert.status.rawValue)")
            return try JSONResponse.make(AlertResource(alert))
        }
    }
}
