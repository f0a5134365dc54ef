import Foundation
import Testing
import WardenCore
import WardenDefender

/// Each audit check finds its problem on a seeded bad configuration, and nothing on a clean one.
struct SecurityAuditTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let day: TimeInterval = 86_400

    func device(_ id: String, status: Device.Status = .enabled, sas: Bool = true, age: TimeInterval = 0) throws
        -> Device
    {
        let created = now.addingTimeInterval(-age)
        return Device(
            tenantID: .defaultTenant, id: try DeviceID(id), generationID: "g", etag: "e", status: status,
            statusReason: nil, statusUpdatedAt: created, authentication: sas ? .sas(.random()) : .x509CA,
            attributes: [:], createdAt: created, updatedAt: created)
    }

    /// Facts with nothing wrong: recent devices that connected lately, strong TLS, people with TOTP.
    func clean() throws -> AuditFacts {
        var facts = AuditFacts(now: now)
        facts.cipherSuites = ["ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"]
        facts.listeners = [
            .init(name: "mqtts", address: "0.0.0.0", usesTLS: true, anonymous: false),
            .init(name: "mqtt", address: "127.0.0.1", usesTLS: false, anonymous: true),
        ]
        facts.devices = [try device("fresh", age: day), try device("steady", age: 100 * day)]
        facts.lastConnections = ["default/steady": now.addingTimeInterval(-day)]
        facts.certificates = [
            .init(
                kind: .device, tenantID: .defaultTenant, resource: "device default/a certificate 1",
                notAfter: now.addingTimeInterval(200 * day)),
            .init(
                kind: .authority, tenantID: .defaultTenant, resource: "CA default/factory",
                notAfter: now.addingTimeInterval(900 * day)),
        ]
        facts.people = [
            .init(
                name: "chief", kind: "user", isPlatformAdmin: true, adminOf: [], hasSecondFactor: true, isEnabled: true),
            .init(
                name: "reader", kind: "user", isPlatformAdmin: false, adminOf: [], hasSecondFactor: false,
                isEnabled: true),
        ]
        facts.apiKeys = [
            .init(
                id: "key_1", name: "grafana", tenantID: .defaultTenant, createdAt: now.addingTimeInterval(-200 * day),
                expiresAt: now.addingTimeInterval(day), lastUsedAt: now.addingTimeInterval(-day))
        ]
        return facts
    }

    @Test func aCleanConfigurationHasNoFindings() throws {
        let report = SecurityAudit.run(try clean(), id: "a", startedAt: now)
        #expect(report.findings.isEmpty, "\(report.findings)")
        #expect(report.checks.count == SecurityAudit.checks.count && Set(report.checks).count == report.checks.count)
    }

    @Test func eachCheckFindsItsProblem() throws {
        var facts = try clean()
        facts.tlsMinimumVersion = "1.0"
        facts.cipherSuites.append("AES128-SHA")
        facts.listeners.append(.init(name: "mqtt", address: "0.0.0.0", usesTLS: false, anonymous: true))
        facts.auditRetentionDays = 7
        facts.logLevel = "error"
        facts.devices += [
            try device("lost", age: 60 * day), try device("quiet", age: 60 * day),
            try device("parked", status: .disabled),
            try device("parked-cert", status: .disabled, sas: false),
        ]
        facts.lastConnections["default/quiet"] = now.addingTimeInterval(-45 * day)
        facts.disabledWithCertificates = ["default/parked-cert"]
        facts.certificates += [
            .init(
                kind: .device, tenantID: .defaultTenant, resource: "device default/b certificate 2",
                notAfter: now.addingTimeInterval(-day)),
            .init(
                kind: .device, tenantID: .defaultTenant, resource: "device default/c certificate 3",
                notAfter: now.addingTimeInterval(10 * day)),
            .init(
                kind: .authority, tenantID: .defaultTenant, resource: "CA default/old",
                notAfter: now.addingTimeInterval(-day)),
            .init(
                kind: .authority, tenantID: .defaultTenant, resource: "CA default/soon",
                notAfter: now.addingTimeInterval(20 * day)),
        ]
        facts.sharedCredentials = [
            .init(
                kind: "SAS key",
                devices: [(.defaultTenant, try DeviceID("x")), (try TenantID("other"), try DeviceID("y"))])
        ]
        facts.revokedInUse = [(.defaultTenant, try DeviceID("b"), "2")]
        facts.permissiveStatements = [(.defaultTenant, "everyone-everywhere")]
        facts.conflictingClientIDs = [(.defaultTenant, "twin")]
        facts.people.append(
            .init(
                name: "boss", kind: "user", isPlatformAdmin: false, adminOf: [.defaultTenant], hasSecondFactor: false,
                isEnabled: true))
        facts.apiKeys += [
            .init(
                id: "key_2", name: "forever", tenantID: .defaultTenant, createdAt: now, expiresAt: nil, lastUsedAt: now),
            .init(
                id: "key_3", name: "stale", tenantID: .defaultTenant, createdAt: now.addingTimeInterval(-100 * day),
                expiresAt: now.addingTimeInterval(day), lastUsedAt: nil),
        ]
        let report = SecurityAudit.run(facts, id: "b", startedAt: now)
        let found = Dictionary(grouping: report.findings, by: \.check)
        #expect(Set(found.keys) == Set(SecurityAudit.checks.map(\.id)), "every check finds its problem")
        #expect(found["device-certificate-expired"]?.map(\.resource) == ["device default/b certificate 2"])
        #expect(found["device-certificate-expiring"]?.map(\.resource) == ["device default/c certificate 3"])
        #expect(found["ca-certificate-expired"]?.first?.severity == "critical")
        #expect(found["insecure-listener"]?.map(\.resource) == ["listener mqtt 0.0.0.0"], "loopback is fine")
        #expect(found["weak-tls"]?.count == 2 && found["logging-weak"]?.count == 2)
        #expect(Set(found["device-silent"]?.map(\.resource) ?? []) == ["device default/lost", "device default/quiet"])
        #expect(
            Set(found["disabled-device-with-credentials"]?.map(\.resource) ?? []) == [
                "device default/parked", "device default/parked-cert",
            ])
        #expect(found["admin-without-second-factor"]?.map(\.resource) == ["user boss"])
        // Shared across tenants: each tenant hears of its own device only, the platform of the sharing.
        let shared = found["shared-credential"] ?? []
        #expect(Set(shared.map { $0.tenantID ?? "platform" }) == ["default", "other", "platform"])
        #expect(shared.first { $0.tenantID == "default" }?.resource == "devices default/x")
        #expect(shared.allSatisfy { $0.tenantID != "default" || !$0.resource.contains("other/") })
        #expect(found["api-key-unused"]?.map(\.detail) == ["Never used since it was made."])
        for finding in report.findings {
            #expect(!finding.why.isEmpty && !finding.fix.isEmpty && !finding.resource.isEmpty)
        }
    }

    @Test func findingsPerCheckAreBoundedAndCounted() throws {
        var facts = try clean()
        facts.devices = try (0..<150).map { try device("old-\($0)", age: 60 * day) }
        let report = SecurityAudit.run(facts, id: "c", startedAt: now)
        #expect(report.findings.count == SecurityAudit.maximumFindingsPerCheck)
        #expect(report.omitted == ["default/device-silent": 50], "counted per tenant")
    }
}
