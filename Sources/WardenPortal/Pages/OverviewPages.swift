import Foundation
import Hummingbird
import WardenAPI
import WardenAudit
import WardenCore
import WardenDefender
import WardenHub
import WardenRegistry
import WardenSecurity

extension Pages {
    struct TenantSummary {
        let id: String
        let hostName: String
        let total: Int
        let connected: Int
        let role: String
        let createdAt: String
    }

    struct FailureRow {
        let at: String
        let tenant: String
        let actor: String
        let sourceIP: String
        let reason: String
        let referenceID: String
    }

    struct AlertRow {
        let id: String
        let severity: String
        let status: String
        let rule: String
        let subject: String
        let summary: String
        let count: Int
        let lastSeen: String
        let isOpen: Bool
        let isResolved: Bool
    }

    struct OverviewPage {
        let tenants: [TenantSummary]
        let canSeeFailures: Bool
        let failures: [FailureRow]
        /// Open and acknowledged alerts the principal may see: all for a platform administrator, else those of
        /// its tenants.
        let alerts: [AlertRow]
        /// May acknowledge and resolve them.
        let canManageAlerts: Bool
        let csrf: String
    }

    struct TenantsPage {
        let tenants: [TenantSummary]
        let canCreate: Bool
        let csrf: String
    }

    /// `POST /alerts/{alert}/acknowledge|resolve` from the overview.
    private func alertRoute(_ verb: String, _ status: Alert.Status) -> PortalRoute {
        PortalRoute(.post, "/alerts/{alert}/\(verb)", "\(verb)Alert", permission: .platformManage) { _, portal in
            let alert = try await dependencies.defender.setStatus(
                portal.parameter("alert"), status, by: "\(portal.principal.kind.rawValue):\(portal.principal.name)")
            portal.context.auditDetail("after", "\(alert.id) \(alert.status.rawValue)")
            return .redirect("/")
        }
    }

    static func alertRow(_ alert: Alert) -> AlertRow {
        AlertRow(
            id: alert.id, severity: alert.severity.rawValue, status: alert.status.rawValue, rule: alert.rule,
            subject: alert.subject, summary: alert.summary, count: alert.count, lastSeen: time(alert.lastSeen),
            isOpen: alert.status == .open, isResolved: alert.status == .resolved)
    }

    var overviewRoutes: [PortalRoute] {
        [
            PortalRoute(.get, "/", "overview", permission: .ownAccount) { request, portal in
                let principal = portal.principal
                let tenants = try await tenantSummaries(principal)
                let auditable = tenants.compactMap { try? TenantID($0.id) }.filter { principal.may(.auditRead, in: $0) }
                let since = dependencies.clock.nowMilliseconds() - 86_400_000
                // A platform administrator sees people's failed sign-ins too (they belong to no tenant).
                let filters =
                    principal.isPlatformAdmin
                    ? ["device.authenticate", "signIn", "portal.signIn"].map {
                        AuditFilter(action: $0, outcome: .denied, from: since)
                    }
                    : auditable.prefix(20).map {
                        AuditFilter(tenant: $0, action: "device.authenticate", outcome: .denied, from: since)
                    }
                var failures: [FailureRow] = []
                for filter in filters {
                    failures += try await dependencies.auditReader.records(filter, before: nil, limit: 20)
                        .map(Self.failureRow)
                }
                failures.sort { $0.at > $1.at }
                let visible = Set(tenants.compactMap { try? TenantID($0.id) })
                let alerts = try await dependencies.defender.alerts(status: nil).filter { alert in
                    alert.status != .resolved
                        && (principal.isPlatformAdmin || alert.tenantID.map(visible.contains) == true)
                }
                return page(
                    "overview",
                    OverviewPage(
                        tenants: tenants, canSeeFailures: !auditable.isEmpty, failures: Array(failures.prefix(20)),
                        alerts: alerts.prefix(50).map(Self.alertRow),
                        canManageAlerts: principal.may(.platformManage, in: nil), csrf: portal.session.csrf),
                    title: "Overview", request, portal)
            },
            alertRoute("acknowledge", .acknowledged),
            alertRoute("resolve", .resolved),
            PortalRoute(.get, "/tenants", "tenants", permission: .tenantsRead) { request, portal in
                page(
                    "tenants",
                    TenantsPage(
                        tenants: try await tenantSummaries(portal.principal),
                        canCreate: portal.principal.may(.tenantsManage, in: nil), csrf: portal.session.csrf),
                    title: "Tenants", request, portal)
            },
            PortalRoute(.post, "/tenants", "createTenant", permission: .tenantsManage) { _, portal in
                let tenant = try await dependencies.registry.createTenant(try TenantID(portal.field("tenantId")))
                portal.context.auditDetail("after", tenant.id.rawValue)
                return .redirect("/tenants")
            },
        ]
    }

    func tenantSummaries(_ principal: Principal) async throws -> [TenantSummary] {
        let counts = try await dependencies.registry.deviceCounts()
        var tenants: [Tenant] = []
        var cursor: String?
        repeat {
            let page = try await dependencies.registry.tenants(after: cursor, limit: 1000)
            tenants += page.items.filter { principal.canSee($0.id) }
            cursor = page.nextCursor
        } while cursor != nil
        // Asked eight at a time: on a cluster each question waits for the other nodes' answers.
        let connected = await withTaskGroup(of: (TenantID, Int).self) { group in
            var counts: [TenantID: Int] = [:]
            for (index, tenant) in tenants.enumerated() {
                if index >= 8, let (id, count) = await group.next() { counts[id] = count }
                group.addTask {
                    (
                        tenant.id,
                        await dependencies.hub.presence.presence(in: tenant.id, of: [], countingTenant: true)
                            .connectedCount
                    )
                }
            }
            for await (id, count) in group { counts[id] = count }
            return counts
        }
        return tenants.map { tenant in
            TenantSummary(
                id: tenant.id.rawValue, hostName: tenant.hostName.rawValue, total: counts[tenant.id] ?? 0,
                connected: connected[tenant.id] ?? 0,
                role: principal.isPlatformAdmin ? "platform admin" : principal.roles[tenant.id]?.rawValue ?? "-",
                createdAt: Self.time(tenant.createdAt))
        }
    }

    static func failureRow(_ record: AuditRecord) -> FailureRow {
        FailureRow(
            at: UTCTimestamp.string(milliseconds: record.at), tenant: record.tenant?.rawValue ?? "-",
            actor: record.actor, sourceIP: record.sourceIP, reason: record.reason ?? "-",
            referenceID: record.referenceID ?? "-")
    }
}
