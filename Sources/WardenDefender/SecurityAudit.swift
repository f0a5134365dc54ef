public import Foundation
public import WardenCore

/// What an audit finds: which check, on what, how bad, why it matters and how to fix it (issue 16, "Audit
/// checks", after AWS IoT Device Defender's audit).
public struct AuditFinding: Sendable, Hashable, Codable {
    public let check: String
    public let severity: String
    /// Nil for the platform's own settings.
    public let tenantID: String?
    /// `device default/meter-1`, `user alice`, `listener mqtt 0.0.0.0:1883`.
    public let resource: String
    /// What was found on it.
    public let detail: String
    public let why: String
    public let fix: String

    private enum CodingKeys: String, CodingKey {
        case check, severity, tenantID = "tenantId", resource, detail, why, fix
    }
}

/// One run of the audit checks.
public struct AuditReport: Sendable, Hashable, Codable {
    public let id: String
    public let startedAt: Date
    public let finishedAt: Date
    /// Every check that ran, whether or not it found anything.
    public let checks: [String]
    public let findings: [AuditFinding]
    /// Findings not listed past `SecurityAudit.maximumFindingsPerCheck`, by `check` (the platform's) or
    /// `{tenant}/{check}`.
    public let omitted: [String: Int]

    public init(
        id: String, startedAt: Date, finishedAt: Date, checks: [String], findings: [AuditFinding],
        omitted: [String: Int]
    ) {
        self.id = id
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.checks = checks
        self.findings = findings
        self.omitted = omitted
    }
}

/// What the audit looks at, gathered by the server from the registry, the PKI, the people, the policies, the
/// broker and the configuration (the checks themselves read nothing else, so each is a pure function a test
/// feeds a seeded bad configuration).
public struct AuditFacts: Sendable {
    public struct Listener: Sendable {
        public let name: String
        public let address: String
        public let usesTLS: Bool
        public let anonymous: Bool

        public init(name: String, address: String, usesTLS: Bool, anonymous: Bool) {
            self.name = name
            self.address = address
            self.usesTLS = usesTLS
            self.anonymous = anonymous
        }
    }

    /// A certificate with an expiry: a device's (issued by a tenant CA Warden holds, or seen at connection), a
    /// tenant CA's, an issuing CA's.
    public struct Certificate: Sendable {
        public enum Kind: String, Sendable { case device, authority }
        public let kind: Kind
        public let tenantID: TenantID
        /// `device default/meter-1 certificate 3F…`, `CA default/factory`.
        public let resource: String
        public let notAfter: Date

        public init(kind: Kind, tenantID: TenantID, resource: String, notAfter: Date) {
            self.kind = kind
            self.tenantID = tenantID
            self.resource = resource
            self.notAfter = notAfter
        }
    }

    /// Devices that share one credential.
    public struct SharedCredential: Sendable {
        /// `SAS key`, `certificate thumbprint`.
        public let kind: String
        public let devices: [(TenantID, DeviceID)]

        public init(kind: String, devices: [(TenantID, DeviceID)]) {
            self.kind = kind
            self.devices = devices
        }
    }

    public struct Person: Sendable {
        public let name: String
        /// `user`, `service`.
        public let kind: String
        public let isPlatformAdmin: Bool
        /// Tenants where it is owner or admin.
        public let adminOf: [TenantID]
        public let hasSecondFactor: Bool
        public let isEnabled: Bool

        public init(
            name: String, kind: String, isPlatformAdmin: Bool, adminOf: [TenantID], hasSecondFactor: Bool,
            isEnabled: Bool
        ) {
            self.name = name
            self.kind = kind
            self.isPlatformAdmin = isPlatformAdmin
            self.adminOf = adminOf
            self.hasSecondFactor = hasSecondFactor
            self.isEnabled = isEnabled
        }
    }

    public struct Key: Sendable {
        public let id: String
        public let name: String
        public let tenantID: TenantID
        public let createdAt: Date
        public let expiresAt: Date?
        public let lastUsedAt: Date?

        public init(id: String, name: String, tenantID: TenantID, createdAt: Date, expiresAt: Date?, lastUsedAt: Date?)
        {
            self.id = id
            self.name = name
            self.tenantID = tenantID
            self.createdAt = createdAt
            self.expiresAt = expiresAt
            self.lastUsedAt = lastUsedAt
        }
    }

    public var now: Date
    public var tlsMinimumVersion: String
    public var cipherSuites: [String]
    public var listeners: [Listener]
    public var auditRetentionDays: Int
    public var logLevel: String
    public var devices: [Device]
    /// `{tenant}/{device}` → its last connection.
    public var lastConnections: [String: Date]
    /// `{tenant}/{device}` of disabled devices that still hold a valid (unrevoked, unexpired) certificate.
    public var disabledWithCertificates: Set<String>
    public var certificates: [Certificate]
    public var sharedCredentials: [SharedCredential]
    /// Live connections whose certificate is revoked: `device {tenant}/{id}` and the serial.
    public var revokedInUse: [(TenantID, DeviceID, String)]
    /// Allow statements granting every device every topic: tenant, statement id.
    public var permissiveStatements: [(TenantID, String)]
    /// Clients whose sessions were taken over by another connection with the same client id, recently.
    public var conflictingClientIDs: [(TenantID, String)]
    public var people: [Person]
    public var apiKeys: [Key]
    /// Each tenant's policy version in force (0: the shipped statements only).
    public var policyVersions: [TenantID: Int]

    public init(now: Date) {
        self.now = now
        tlsMinimumVersion = "1.2"
        cipherSuites = []
        listeners = []
        auditRetentionDays = 365
        logLevel = "info"
        devices = []
        lastConnections = [:]
        disabledWithCertificates = []
        certificates = []
        sharedCredentials = []
        revokedInUse = []
        permissiveStatements = []
        conflictingClientIDs = []
        people = []
        apiKeys = []
        policyVersions = [:]
    }
}

/// The audit checks (issue 16): each a pure function of `AuditFacts`, with its severity, why it matters and how
/// to fix it; `docs/defender.md` lists them.
public enum SecurityAudit {
    public struct Check: Sendable {
        public let id: String
        public let severity: Alert.Severity
        public let why: String
        public let fix: String
        let find: @Sendable (AuditFacts) -> [(tenant: TenantID?, resource: String, detail: String)]
    }

    /// Findings listed per check at most; the rest are counted in the report's `omitted`.
    public static let maximumFindingsPerCheck = 100
    /// How soon an expiry is worth saying, and how long a device or key may be silent or unused.
    static let expiringWithin: TimeInterval = 30 * 86_400
    public static let silentFor: TimeInterval = 30 * 86_400
    static let unusedFor: TimeInterval = 90 * 86_400

    /// Runs every check on `facts`. Findings are listed per check and tenant (and the platform) up to the
    /// limit, so that one tenant's many never hide another's; `omitted` counts the rest by `check` (the
    /// platform's) or `{tenant}/{check}`.
    public static func run(_ facts: AuditFacts, id: String, startedAt: Date) -> AuditReport {
        var findings: [AuditFinding] = []
        var omitted: [String: Int] = [:]
        for check in checks {
            let byTenant = Dictionary(grouping: check.find(facts), by: \.tenant)
            for (tenant, found) in byTenant.sorted(by: { ($0.key?.rawValue ?? "") < ($1.key?.rawValue ?? "") }) {
                if found.count > maximumFindingsPerCheck {
                    omitted[tenant.map { "\($0)/\(check.id)" } ?? check.id] = found.count - maximumFindingsPerCheck
                }
                findings += found.prefix(maximumFindingsPerCheck).map { finding in
                    AuditFinding(
                        check: check.id, severity: check.severity.rawValue, tenantID: finding.tenant?.rawValue,
                        resource: finding.resource, detail: finding.detail, why: check.why, fix: check.fix)
                }
            }
        }
        return AuditReport(
            id: id, startedAt: startedAt, finishedAt: facts.now, checks: checks.map(\.id), findings: findings,
            omitted: omitted)
    }

    public static let checks: [Check] = [
        Check(
            id: "device-certificate-expired", severity: .high,
            why:
                "An enabled device whose certificate has expired cannot connect; one that still presents it is refused.",
            fix: "Issue or renew its certificate (`warden cert renew`), or disable the device."
        ) { facts in
            expiry(facts, .device) { $0 <= facts.now }
        },
        Check(
            id: "device-certificate-expiring", severity: .medium,
            why: "A device certificate that expires within 30 days will lock its device out unless renewed in time.",
            fix: "Renew it before it expires (`warden cert renew SERIAL --csr …`)."
        ) { facts in
            expiry(facts, .device) { $0 > facts.now && $0 <= facts.now.addingTimeInterval(expiringWithin) }
        },
        Check(
            id: "ca-certificate-expired", severity: .critical,
            why: "No device certificate chaining to an expired CA is accepted: every such device is locked out.",
            fix:
                "Register the CA's renewed certificate (`warden ca add`) or create a new issuing CA, and move devices to it."
        ) { facts in
            expiry(facts, .authority) { $0 <= facts.now }
        },
        Check(
            id: "ca-certificate-expiring", severity: .high,
            why: "A CA certificate that expires within 30 days takes every device chaining to it down with it.",
            fix: "Renew the CA certificate and re-issue device certificates under it before it expires."
        ) { facts in
            expiry(facts, .authority) { $0 > facts.now && $0 <= facts.now.addingTimeInterval(expiringWithin) }
        },
        Check(
            id: "revoked-certificate-in-use", severity: .critical,
            why: "A connection that authenticated with a certificate since revoked should have been closed at once.",
            fix: "Disconnect the device (`warden device disconnect`), then find why live revocation missed it."
        ) { facts in
            facts.revokedInUse.map { tenant, device, serial in
                (tenant, "device \(tenant)/\(device)", "Connected with revoked certificate \(serial).")
            }
        },
        Check(
            id: "shared-credential", severity: .high,
            why:
                "Devices sharing a key or certificate cannot be told apart: one leak is all of them, and revoking one revokes all.",
            fix:
                "Give each device its own credential: rotate the keys (`warden device rotate-key`) or issue each its own certificate."
        ) { facts in
            // Each tenant hears of its own devices only; sharing across tenants is the platform's finding, which
            // names no device (a tenant could otherwise learn another's ids by registering its thumbprint).
            facts.sharedCredentials.flatMap { shared -> [(tenant: TenantID?, resource: String, detail: String)] in
                let tenants = Dictionary(grouping: shared.devices, by: \.0)
                var found = tenants.compactMap { tenant, devices -> (TenantID?, String, String)? in
                    let names = devices.map { "\(tenant)/\($0.1)" }.sorted()
                    guard names.count > 1 || tenants.count > 1 else { return nil }
                    let others = shared.devices.count - devices.count
                    return (
                        tenant, "devices " + names.prefix(10).joined(separator: ", "),
                        "\(shared.devices.count) devices share one \(shared.kind)"
                            + (others > 0 ? ", \(others) of them in other tenants." : ".")
                    )
                }
                if tenants.count > 1 {
                    found.append(
                        (
                            nil, "\(shared.kind) shared across \(tenants.count) tenants",
                            "\(shared.devices.count) devices in \(tenants.count) tenants share one \(shared.kind)."
                        ))
                }
                return found
            }
        },
        Check(
            id: "conflicting-client-ids", severity: .medium,
            why:
                "Connections that keep taking over each other's session are two clients with one identity: a clone, or a misconfiguration.",
            fix:
                "Find the second client (the inventory shows the last address); rotate the device's credential if it is a clone."
        ) { facts in
            facts.conflictingClientIDs.map { tenant, client in
                (tenant, "client \(tenant)/\(client)", "Its session was taken over repeatedly.")
            }
        },
        Check(
            id: "permissive-policy", severity: .high,
            why:
                "A statement that lets every device publish or subscribe to every topic undoes the namespace: any device can read and spoof any other.",
            fix:
                "Narrow the statement's resources (`devices/${device.id}/…`) or its principals, then apply the document again."
        ) { facts in
            facts.permissiveStatements.map { tenant, statement in
                (tenant, "policy statement \(tenant)/\(statement)", "Allows every device every topic ('#').")
            }
        },
        Check(
            id: "logging-weak", severity: .medium,
            why:
                "An audit trail kept briefly, or logs that drop warnings, leave too little to investigate an incident.",
            fix: "Keep audit records 90 days or more (`audit.retention-days`) and log at info or warning (`log.level`)."
        ) { facts in
            var found: [(TenantID?, String, String)] = []
            if facts.auditRetentionDays < 90 {
                found.append(
                    (nil, "setting audit.retention-days", "Audit records are kept \(facts.auditRetentionDays) days."))
            }
            if ["error", "critical"].contains(facts.logLevel) {
                found.append((nil, "setting log.level", "The log level is \(facts.logLevel): warnings are not logged."))
            }
            return found
        },
        Check(
            id: "insecure-listener", severity: .critical,
            why:
                "A listener without TLS, or one that admits clients without credentials, exposes devices' data and commands to anyone who can reach it.",
            fix:
                "Turn the plain listener off (`mqtt.plain.enabled: false`) or bind it to loopback, and never allow anonymous clients off loopback."
        ) { facts in
            facts.listeners.filter { !isLoopback($0.address) && (!$0.usesTLS || $0.anonymous) }.map { listener in
                (
                    nil, "listener \(listener.name) \(listener.address)",
                    listener.anonymous ? "Admits anonymous clients off loopback." : "Serves without TLS off loopback."
                )
            }
        },
        Check(
            id: "weak-tls", severity: .high,
            why:
                "TLS before 1.2, or suites without forward secrecy or with CBC, RC4, 3DES or NULL, can be downgraded or broken.",
            fix: "Set `tls.minimum-version` to 1.2 or 1.3 (the default is 1.2 with Warden's own suite list)."
        ) { facts in
            var found: [(TenantID?, String, String)] = []
            if !["1.2", "1.3"].contains(facts.tlsMinimumVersion) {
                found.append((nil, "setting tls.minimum-version", "TLS \(facts.tlsMinimumVersion) is accepted."))
            }
            // Strong: an ECDHE key exchange with an AEAD (in OpenSSL's or IANA's spelling); anything else is not.
            for suite in facts.cipherSuites
            where !(suite.hasPrefix("ECDHE-") || suite.hasPrefix("TLS_ECDHE_"))
                || !(suite.contains("GCM") || suite.contains("CHACHA20"))
            {
                found.append((nil, "cipher suite \(suite)", "A suite without forward secrecy or an AEAD is offered."))
            }
            return found
        },
        Check(
            id: "admin-without-second-factor", severity: .high,
            why:
                "An administrator's password alone (phished, reused, guessed) gives away every device of the tenants they run.",
            fix: "Enrol a TOTP authenticator (`Account` in the portal), or take the admin role away."
        ) { facts in
            // One finding per scope the person administers: a tenant hears only of its own administrators.
            facts.people.filter { $0.kind == "user" && $0.isEnabled && !$0.hasSecondFactor }.flatMap { person in
                (person.isPlatformAdmin ? [(nil, "user \(person.name)", "Platform administrator, no TOTP.")] : [])
                    + person.adminOf.map { tenant in
                        (tenant, "user \(person.name)", "Owner or admin of \(tenant), no TOTP.")
                    }
            }
        },
        Check(
            id: "api-key-without-expiry", severity: .low,
            why: "A key that never expires works for whoever holds a copy, long after its purpose is gone.",
            fix: "Create a key with an expiry (`warden apikey create NAME --expires 90d`) and revoke this one."
        ) { facts in
            facts.apiKeys.filter { $0.expiresAt == nil }.map { key in
                (key.tenantID, "api key \(key.tenantID)/\(key.name) (\(key.id))", "Never expires.")
            }
        },
        Check(
            id: "api-key-unused", severity: .medium,
            why: "A key unused for 90 days is likely forgotten: nobody will notice if it is stolen and used.",
            fix: "Revoke it (`warden apikey revoke`)."
        ) { facts in
            facts.apiKeys.filter { key in
                let last = key.lastUsedAt ?? key.createdAt
                return facts.now.timeIntervalSince(last) >= unusedFor
            }.map { key in
                (
                    key.tenantID, "api key \(key.tenantID)/\(key.name) (\(key.id))",
                    key.lastUsedAt == nil ? "Never used since it was made." : "Not used for 90 days."
                )
            }
        },
        Check(
            id: "device-silent", severity: .low,
            why:
                "A device that never connected, or has been silent for 30 days, may be lost, stolen or decommissioned while its credentials still work.",
            fix: "Find it, or disable or delete it (`warden device disable`)."
        ) { facts in
            facts.devices.filter { $0.status == .enabled }.compactMap { device in
                let key = "\(device.tenantID)/\(device.id)"
                if let last = facts.lastConnections[key] {
                    guard facts.now.timeIntervalSince(last) >= silentFor else { return nil }
                    return (
                        device.tenantID, "device \(key)",
                        "Silent since \(UTCTimestamp.string(milliseconds: last.unixMilliseconds))."
                    )
                }
                guard facts.now.timeIntervalSince(device.createdAt) >= silentFor else { return nil }
                return (device.tenantID, "device \(key)", "Never connected since it was registered.")
            }
        },
        Check(
            id: "disabled-device-with-credentials", severity: .low,
            why:
                "A disabled device's keys and certificates still prove its identity: enabling it by mistake, or a copy of the key elsewhere, brings it back.",
            fix: "Rotate its keys or revoke its certificates (`warden cert revoke`), or delete the device."
        ) { facts in
            facts.devices.filter { $0.status == .disabled }.compactMap { device in
                let key = "\(device.tenantID)/\(device.id)"
                if case .sas = device.authentication {
                    return (device.tenantID, "device \(key)", "Disabled, with its SAS keys still valid.")
                }
                guard facts.disabledWithCertificates.contains(key) else { return nil }
                return (device.tenantID, "device \(key)", "Disabled, with a valid certificate Warden issued.")
            }
        },
    ]

    private static func expiry(
        _ facts: AuditFacts, _ kind: AuditFacts.Certificate.Kind, _ matches: (Date) -> Bool
    ) -> [(tenant: TenantID?, resource: String, detail: String)] {
        facts.certificates.filter { $0.kind == kind && matches($0.notAfter) }.sorted { $0.notAfter < $1.notAfter }
            .map { certificate in
                let when = UTCTimestamp.string(milliseconds: certificate.notAfter.unixMilliseconds)
                let verb = certificate.notAfter <= facts.now ? "Expired" : "Expires"
                return (certificate.tenantID, certificate.resource, "\(verb) \(when).")
            }
    }

    private static func isLoopback(_ address: String) -> Bool {
        address == "localhost" || address.hasPrefix("127.") || address == "::1"
    }
}
