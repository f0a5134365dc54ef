public import Foundation
import Synchronization
public import WardenCore
import WardenStore

/// The audit checks on demand and on a schedule (issue 16, "Audit checks"): the server gathers the facts, the
/// checks judge them, the report is kept (the newest 30), and high or critical findings raise an alert per tenant
/// (and one for the platform's own settings).
extension DefenderService {
    /// Gathers what the audit looks at (the server's, which reaches the registry, PKI, people and broker).
    public typealias AuditGathering = @Sendable () async throws -> AuditFacts

    /// Reports kept.
    static var keptAuditReports: Int { 30 }
    /// The alert a report with high or critical findings raises.
    public static let auditRule = "audit.findings"
    /// Takeovers of one client's session within a day that make its id "conflicting".
    static var conflictingTakeovers: Int { 3 }

    /// Sets how the audit's facts are gathered (once, at start-up, after everything it reads exists).
    public func gatherAuditFacts(with gather: @escaping AuditGathering) {
        auditGathering.withLock { $0 = gather }
    }

    /// Runs every check now and keeps the report.
    public func audit() async throws -> AuditReport {
        guard let gather = auditGathering.withLock({ $0 }) else {
            throw WardenError(.internalError, "The audit has nothing to gather its facts with.")
        }
        let startedAt = clock.now()
        var facts = try await gather()
        facts.conflictingClientIDs = conflictingClients(at: facts.now)
        let report = SecurityAudit.run(facts, id: Hex.encode(SecretBytes.random(count: 8).bytes), startedAt: startedAt)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        try await store.saveAuditReport(
            id: report.id, finishedAt: report.finishedAt,
            json: String(decoding: try encoder.encode(report), as: UTF8.self),
            keeping: Self.keptAuditReports)
        await alert(on: report)
        return report
    }

    /// The newest report; `defender.audit_not_run` before the first.
    public func latestAudit() async throws -> AuditReport {
        guard let json = try await store.latestAuditReport() else {
            throw WardenError(.auditReportNotFound, "No audit has run yet: `warden defender audit` runs one.")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(AuditReport.self, from: Data(json.utf8))
    }

    /// One `audit.findings` alert per tenant with high or critical findings, and one for the platform's own.
    private func alert(on report: AuditReport) async {
        let serious = report.findings.filter { $0.severity == "high" || $0.severity == "critical" }
        for (tenant, findings) in Dictionary(grouping: serious, by: \.tenantID) {
            let checks = Set(findings.map(\.check)).sorted().joined(separator: ", ")
            _ = try? await raise(
                Self.auditRule, on: tenant.map { "tenant \($0)" } ?? "platform",
                severity: findings.contains { $0.severity == "critical" } ? .critical : .high,
                tenantID: tenant.flatMap { try? TenantID($0) },
                summary: "\(findings.count) high or critical audit findings (\(checks)) in audit \(report.id).")
        }
    }

    /// How long gathered facts serve reports: a report is asked for by any tenant's reader, and gathering goes
    /// over the whole registry.
    static var factsLifetime: TimeInterval { 60 }

    /// The facts gathered within `factsLifetime`, or gathered now.
    func recentFacts() async throws -> AuditFacts {
        let now = clock.now()
        if let (at, facts) = recentAuditFacts.withLock({ $0 }), now.timeIntervalSince(at) < Self.factsLifetime {
            return facts
        }
        guard let gather = auditGathering.withLock({ $0 }) else {
            throw WardenError(.internalError, "The report has nothing to gather its facts with.")
        }
        let facts = try await gather()
        recentAuditFacts.withLock { $0 = (now, facts) }
        return facts
    }

    /// Counts a takeover of a client's session (another connection with its client id), for the audit.
    func countTakeover(of principal: String, in tenantID: TenantID, at now: Date) {
        let key = "\(tenantID)/\(principal)"
        counts.withLock { counts in
            if counts.takeovers[key] == nil, counts.takeovers.count >= settings.maximumTrackedSources {
                counts.takeovers = counts.takeovers.filter { now.timeIntervalSince($0.value.since) < 86_400 }
                if counts.takeovers.count >= settings.maximumTrackedSources { return }
            }
            var tally = counts.takeovers[key] ?? (0, now)
            if now.timeIntervalSince(tally.since) >= 86_400 { tally = (0, now) }
            tally.count += 1
            counts.takeovers[key] = tally
        }
    }

    /// Clients whose session was taken over at least `conflictingTakeovers` times within the last day.
    func conflictingClients(at now: Date) -> [(TenantID, String)] {
        counts.withLock { counts in
            counts.takeovers.compactMap { key, tally in
                guard tally.count >= Self.conflictingTakeovers, now.timeIntervalSince(tally.since) < 86_400,
                    let slash = key.firstIndex(of: "/"), let tenant = try? TenantID(String(key[..<slash]))
                else { return nil }
                return (tenant, String(key[key.index(after: slash)...]))
            }.sorted { ($0.0.rawValue, $0.1) < ($1.0.rawValue, $1.1) }
        }
    }
}

extension DefenderService {
    /// The security posture of `tenantID` (nil: the whole platform) now: the facts gathered afresh, the checks run
    /// on them (not kept), the alerts of the last 7 days and the audit log's activity of the last 24 hours.
    public func report(for tenantID: TenantID?) async throws -> PostureReport {
        let facts = try await recentFacts()
        let now = facts.now
        let findings = SecurityAudit.run(facts, id: "posture", startedAt: now).findings.filter { finding in
            tenantID.map { finding.tenantID == nil || finding.tenantID == $0.rawValue } ?? true
        }
        let alerts = try await store.alerts(status: nil, tenantID: tenantID, limit: Self.maximumListed).filter {
            alert in
            now.timeIntervalSince(alert.lastSeen) <= 7 * 86_400
        }
        return PostureAssessment.report(
            PostureAssessment.Evidence(
                tenantID: tenantID, now: now, facts: facts, findings: findings, alerts: alerts,
                rules: tenantID.map(rules(for:)) ?? settings.deviceRules,
                lastAudit: (try? await latestAudit())?.finishedAt, auditInterval: settings.auditInterval,
                policyVersion: tenantID.flatMap { facts.policyVersions[$0] } ?? 0,
                webhook: settings.webhookConfigured, learning: settings.sampleInterval > 0,
                activity: try await store.securityActivity(
                    of: tenantID, since: now.addingTimeInterval(-23 * 3_600).hourStart, bucketSeconds: 3_600)))
    }
}

extension Date {
    /// The start of the hour this moment is in (UTC), so that report buckets are whole hours.
    var hourStart: Date {
        Date(timeIntervalSince1970: (timeIntervalSince1970 / 3_600).rounded(.down) * 3_600)
    }
}
