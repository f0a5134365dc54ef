import Foundation
import Hummingbird
import WardenCore
import WardenDefender

/// `/api/v1/bans` and `/api/v1/defender/alerts` (platform administrators; docs/defender.md).
struct DefenderController {
    let defender: DefenderService
    let webhook: AlertWebhook?

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
                .get, "/api/v1/defender/alerts", "listAlerts", "Alerts, newest first (at most 1000)",
                permission: .platformManage, success: (200, "AlertList"), query: [Self.statusFilter]
            ) { request, _ in
                let status = try request.uri.queryParameters["status"].map { text in
                    guard let status = Alert.Status(rawValue: String(text)) else {
                        throw WardenError(.requestInvalidQuery, "'status' is open, acknowledged or resolved.")
                    }
                    return status
                }
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
            route("acknowledge", .acknowledged),
            route("resolve", .resolved),
            APIRoute(
                .get, "/api/v1/tenants/{tenant}/quarantines", "listQuarantines", "The tenant's quarantined devices",
                permission: .registryRead, success: (200, "QuarantineList")
            ) { request, context in
                try JSONResponse.make(
                    ListResource(
                        items: try await defender.quarantines(in: try request.tenantID(context))
                            .map(QuarantineResource.init), nextCursor: nil))
            },
            APIRoute(
                .put, Self.quarantine, "quarantineDevice",
                "Raise a device's risk level: the shipped policy refuses its telemetry at high and critical, live",
                permission: .devicesControl, request: "Quarantine", success: (200, "QuarantinedDevice")
            ) { request, context in
                let body = try await request.decodeJSON(QuarantineRequest.self, context)
                let quarantine = try await defender.quarantine(
                    try DeviceID(try request.parameter("device", context)), in: try request.tenantID(context),
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
                    try DeviceID(try request.parameter("device", context)), in: try request.tenantID(context))
                return JSONResponse.noContent()
            },
        ]
    }

    private static let quarantine = "/api/v1/tenants/{tenant}/devices/{device}/quarantine"

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
