import Foundation
import Hummingbird
import WardenAPI
import WardenCore
import WardenDefender

/// A tenant's security page (issue 16): its posture against NIST CSF 2.0 with the last day's activity as charts,
/// and the history of its alerts, which its administrators acknowledge and resolve. It prints as a report.
extension Pages {
    struct FunctionRow {
        let id: String
        let name: String
        let tier: Int
        let target: Int
        let gap: Int
        let short: Bool
    }

    struct Chart {
        let title: String
        let total: Int
        let tone: String
        let svg: String
    }

    struct SecurityPage {
        let tenant: String
        let generatedAt: String
        let openAlerts: Int
        let findings: String
        let functions: [FunctionRow]
        let categories: [PostureReport.Category]
        let charts: [Chart]
        /// The overview's rows; the buttons' permission and token come from the page (Mustache looks outward).
        let alerts: [AlertRow]
        let canManage: Bool
        let csrf: String
    }

    var securityRoutes: [PortalRoute] {
        [
            PortalRoute(.get, "/t/{tenant}/security", "security", permission: .policiesRead) { request, portal in
                let tenant = try portal.requireTenant()
                let report = try await dependencies.defender.report(for: tenant)
                let canManage = portal.principal.may(.policiesManage, in: tenant)
                let alerts = try await dependencies.defender.alerts(status: nil, in: tenant)
                let findings = ["critical", "high", "medium", "low"].compactMap { severity in
                    report.findings[severity].map { "\($0) \(severity)" }
                }
                return page(
                    "security",
                    SecurityPage(
                        tenant: tenant.rawValue, generatedAt: Self.time(report.generatedAt),
                        openAlerts: report.openAlerts,
                        findings: findings.isEmpty ? "none" : findings.joined(separator: ", "),
                        functions: report.functions.map { function in
                            FunctionRow(
                                id: function.id, name: function.name, tier: function.tier, target: function.target,
                                gap: function.target - function.tier, short: function.tier < function.target)
                        },
                        categories: report.functions.flatMap(\.categories),
                        charts: Self.charts(report.activity),
                        alerts: alerts.prefix(200).map(Self.alertRow), canManage: canManage,
                        csrf: portal.session.csrf),
                    title: "Security", request, portal)
            },
            tenantAlertRoute("acknowledge", .acknowledged),
            tenantAlertRoute("resolve", .resolved),
        ]
    }

    private func tenantAlertRoute(_ verb: String, _ status: Alert.Status) -> PortalRoute {
        PortalRoute(.post, "/t/{tenant}/alerts/{alert}/\(verb)", "\(verb)TenantAlert", permission: .policiesManage) {
            _, portal in
            let tenant = try portal.requireTenant()
            let alert = try await dependencies.defender.setStatus(
                portal.parameter("alert"), status, by: "\(portal.principal.kind.rawValue):\(portal.principal.name)",
                in: tenant)
            portal.context.auditDetail("after", "\(alert.id) \(alert.status.rawValue)")
            return .redirect("/t/\(tenant.rawValue)/security")
        }
    }

    /// One bar chart per series, as inline SVG built from numbers only (nothing a client wrote reaches it).
    static func charts(_ activity: [PostureReport.Point]) -> [Chart] {
        let series: [(String, String, (PostureReport.Point) -> Int)] = [
            ("Connections", "", \.connections), ("Refused authentications", "bad", \.authenticationFailures),
            ("Policy denials", "bad", \.denials), ("Alerts", "bad", \.alerts),
        ]
        return series.map { title, tone, value in
            let values = activity.map(value)
            let top = max(values.max() ?? 0, 1)
            let width = 100.0 / Double(max(values.count, 1))
            let bars = values.enumerated().map { index, count in
                // total: a bar's height is its share of the highest, in a 0…100 box.
                let height = Double(count) / Double(top) * 100
                return String(
                    format: "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\">",
                    Double(index) * width, 100 - height, width * 0.8, height) + "<title>\(count)</title></rect>"
            }
            return Chart(
                title: title, total: values.reduce(0, +), tone: tone,
                svg: "<svg viewBox=\"0 0 100 100\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"\(title)\">"
                    + bars.joined() + "</svg>")
        }
    }
}
