public import Foundation
public import WardenCore

/// A tenant's (or the platform's) security posture against the NIST Cybersecurity Framework 2.0 (issue 16): for
/// each function, the categories Warden can evidence, each met, partly met or not met from the configuration, the
/// audit checks and recent alerts; a tier computed from them (1 Partial … 4 Adaptive, as CSF tiers are named)
/// beside the tier the tenant targets; and the activity behind the charts.
public struct PostureReport: Sendable, Codable, Hashable {
    public struct Category: Sendable, Codable, Hashable {
        /// `GV.PO`.
        public let id: String
        public let name: String
        /// `met`, `partial` or `not-met`.
        public let state: String
        /// What the state rests on.
        public let evidence: String
    }

    public struct Function: Sendable, Codable, Hashable {
        /// `GV`, `ID`, `PR`, `DE`, `RS`, `RC`.
        public let id: String
        public let name: String
        public let tier: Int
        public let target: Int
        public let categories: [Category]
    }

    public struct Point: Sendable, Codable, Hashable {
        public let start: Date
        public let connections: Int
        public let authenticationFailures: Int
        public let denials: Int
        public let alerts: Int
    }

    /// Nil: the whole platform.
    public let tenantId: String?
    public let generatedAt: Date
    public let functions: [Function]
    /// Hourly, the last 24 hours.
    public let activity: [Point]
    /// Open alerts, and the current audit findings by severity.
    public let openAlerts: Int
    public let findings: [String: Int]
}

/// How the posture is judged: each category a rule over the evidence (docs/defender.md, "Posture report").
enum PostureAssessment {
    struct Evidence {
        let tenantID: TenantID?
        let now: Date
        let facts: AuditFacts
        /// The current findings that concern the tenant (its own and the platform's).
        let findings: [AuditFinding]
        /// The tenant's alerts of the last 7 days.
        let alerts: [Alert]
        let rules: DeviceRules
        let lastAudit: Date?
        let auditInterval: TimeInterval?
        let policyVersion: Int
        let webhook: Bool
        /// Whether behaviour is learned at all (`defender.sample-interval` above 0).
        let learning: Bool
        let activity: SecurityActivity
    }

    enum State: String {
        case met, partial, notMet = "not-met"

        var score: Int {
            switch self {
            case .met: 2
            case .partial: 1
            case .notMet: 0
            }
        }
    }

    static let functions: [(id: String, name: String, key: String)] = [
        ("GV", "Govern", "govern"), ("ID", "Identify", "identify"), ("PR", "Protect", "protect"),
        ("DE", "Detect", "detect"), ("RS", "Respond", "respond"), ("RC", "Recover", "recover"),
    ]

    static func report(_ evidence: Evidence) -> PostureReport {
        let categories = assess(evidence)
        let functions = functions.map { function in
            let own = categories.filter { $0.id.hasPrefix(function.id + ".") }
            let score = own.reduce(0) { $0 + (State(rawValue: $1.state)?.score ?? 0) }
            // 1 with nothing met, 4 with everything: the CSF's tiers as a scale of how much is in place.
            // total: the score is at most twice the categories, so the quotient lies in 0…3.
            let tier = own.isEmpty ? 1 : 1 + Int((3 * Double(score) / Double(2 * own.count)).rounded(.down))
            return PostureReport.Function(
                id: function.id, name: function.name, tier: tier,
                target: evidence.rules.postureTarget[function.key] ?? DeviceRules.defaultTier, categories: own)
        }
        return PostureReport(
            tenantId: evidence.tenantID?.rawValue, generatedAt: evidence.now, functions: functions,
            activity: evidence.activity.buckets.map {
                PostureReport.Point(
                    start: $0.start, connections: $0.connections, authenticationFailures: $0.authenticationFailures,
                    denials: $0.denials, alerts: $0.alerts)
            },
            openAlerts: evidence.alerts.filter { $0.status == .open }.count,
            findings: Dictionary(grouping: evidence.findings, by: \.severity).mapValues(\.count))
    }

    private static func category(_ id: String, _ name: String, _ state: State, _ evidence: String)
        -> PostureReport.Category
    {
        PostureReport.Category(id: id, name: name, state: state.rawValue, evidence: evidence)
    }

    private static func assess(_ evidence: Evidence) -> [PostureReport.Category] {
        let now = evidence.now
        let checks = Set(evidence.findings.map(\.check))
        let serious = evidence.findings.filter { $0.severity == "high" || $0.severity == "critical" }
        let devices = evidence.facts.devices.filter { device in
            evidence.tenantID.map { device.tenantID == $0 } ?? true
        }.filter { $0.status == .enabled }
        let seen = devices.filter { device in
            evidence.facts.lastConnections["\(device.tenantID)/\(device.id)"].map {
                now.timeIntervalSince($0) < 30 * 86_400
            } ?? false
        }
        // A tenant's own administrators; the platform's for the platform's report.
        let admins = evidence.facts.people.filter { person in
            person.isEnabled && (evidence.tenantID.map(person.adminOf.contains) ?? person.isPlatformAdmin)
        }
        let auditAge = evidence.lastAudit.map { now.timeIntervalSince($0) }
        let auditDue = (evidence.auditInterval ?? 86_400) + 3_600
        let staleAlerts = evidence.alerts.filter { $0.status == .open && now.timeIntervalSince($0.firstSeen) > 86_400 }
        let rules = evidence.rules
        let detecting = [
            rules.authFailures.enabled, rules.flapping.enabled, rules.abnormalDisconnects.enabled,
            rules.policyDenials.enabled, rules.commandRefusals.enabled, rules.newNetwork.enabled,
            rules.behaviour.enabled && evidence.learning,
        ]
        let responses = [
            rules.authFailures.response, rules.flapping.response, rules.abnormalDisconnects.response,
            rules.policyDenials.response, rules.commandRefusals.response, rules.newNetwork.response,
            rules.unusualHours.response, rules.behaviour.response,
        ].filter { $0 != .alert }
        let backupAge = evidence.activity.lastBackup.map { now.timeIntervalSince($0) }
        func days(_ seconds: TimeInterval) -> String { String(format: "%.0f days", (seconds / 86_400).rounded(.down)) }

        return [
            category(
                "GV.PO", "Policy", evidence.policyVersion > 0 ? .met : .partial,
                evidence.policyVersion > 0
                    ? "Policy version \(evidence.policyVersion) is in force."
                    : "Only the shipped statements are in force: no policy of the tenant's own."),
            category(
                "GV.RR", "Roles, responsibilities, and authorities",
                admins.isEmpty ? .notMet : (checks.contains("admin-without-second-factor") ? .partial : .met),
                admins.isEmpty
                    ? "No enabled administrator."
                    : "\(admins.count) administrator\(admins.count == 1 ? "" : "s"), \(admins.filter(\.hasSecondFactor).count) with TOTP."
            ),
            category(
                "GV.OV", "Oversight",
                auditAge.map { $0 <= auditDue ? .met : .partial } ?? .notMet,
                auditAge.map { "The last audit ran \(days($0)) ago." } ?? "No audit has run."),
            category(
                "ID.AM", "Asset management",
                devices.isEmpty || seen.count * 10 >= devices.count * 9
                    ? .met : (seen.count * 2 >= devices.count ? .partial : .notMet),
                "\(seen.count) of \(devices.count) enabled devices connected within 30 days (the inventory)."),
            category(
                "ID.RA", "Risk assessment",
                serious.isEmpty ? (evidence.findings.isEmpty ? .met : .partial) : .notMet,
                "\(evidence.findings.count) audit findings, \(serious.count) of them high or critical."),
            category(
                "PR.AA", "Identity management, authentication, and access control",
                checks.contains("shared-credential") || checks.contains("permissive-policy")
                    ? .notMet
                    : (checks.isDisjoint(with: [
                        "disabled-device-with-credentials", "api-key-without-expiry", "api-key-unused",
                    ])
                        ? .met : .partial),
                "Shared credentials, permissive statements, idle keys and disabled devices' credentials, as audited."),
            category(
                "PR.DS", "Data security",
                checks.contains("insecure-listener") ? .notMet : (checks.contains("weak-tls") ? .partial : .met),
                "TLS \(evidence.facts.tlsMinimumVersion) minimum; secrets sealed at rest under the master key."),
            category(
                "PR.PS", "Platform security",
                checks.isDisjoint(with: ["logging-weak", "device-certificate-expired", "ca-certificate-expired"])
                    ? .met : .partial,
                "Logging and certificate lifetimes, as audited."),
            category(
                "DE.CM", "Continuous monitoring",
                detecting.allSatisfy { $0 } ? .met : (detecting.contains(true) ? .partial : .notMet),
                "\(detecting.filter { $0 }.count) of \(detecting.count) device rules enabled."),
            category(
                "DE.AE", "Adverse event analysis",
                staleAlerts.isEmpty ? .met : .partial,
                "\(evidence.alerts.count) alerts in 7 days, \(staleAlerts.count) open for more than a day."),
            category(
                "RS.MA", "Incident management",
                staleAlerts.contains { $0.severity == .high || $0.severity == .critical } ? .notMet : .met,
                "High and critical alerts are acknowledged within a day."),
            category(
                "RS.MI", "Incident mitigation", responses.isEmpty ? .partial : .met,
                responses.isEmpty
                    ? "Every device rule only alerts: nothing is answered automatically."
                    : "\(responses.count) device rules answer automatically."),
            category(
                "RC.RP", "Incident recovery plan execution",
                backupAge.map { $0 <= 7 * 86_400 ? .met : ($0 <= 30 * 86_400 ? .partial : .notMet) } ?? .notMet,
                backupAge.map { "The last backup was made \(days($0)) ago." } ?? "No backup has been made."),
            category(
                "RC.CO", "Incident recovery communication", evidence.webhook ? .met : .partial,
                evidence.webhook
                    ? "Alerts are delivered to a webhook."
                    : "No alert webhook: alerts reach the portal, the API and MQTT services only."),
        ]
    }
}
