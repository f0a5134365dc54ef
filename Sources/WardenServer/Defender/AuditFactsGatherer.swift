import Foundation
import Logging
import NIOSSL
import WardenAccess
import WardenBroker
import WardenCore
import WardenDefender
import WardenHub
import WardenPKI
import WardenPolicy
import WardenRegistry

/// Gathers what the Defender's audit checks look at (issue 16) from everything the server runs: the
/// configuration, the registry's in-memory view, the PKI, people and keys, the live connections (this node's; on a
/// cluster, the other nodes' of devices that look silent) and the Defender's inventory. Runs once per audit
/// (daily, or on demand), off every request path.
struct AuditFactsGatherer {
    let configuration: ServerConfiguration
    let directory: DeviceDirectory
    let registry: RegistryService
    let certificates: CertificateService
    let access: AccessService
    let broker: Broker
    /// Which devices are connected on any node (the broker knows this node's).
    let presence: DevicePresence
    let defender: DefenderService
    let clock: any WardenClock

    /// Certificates and devices read per request to the store.
    static let page = 1_000

    func gather() async throws -> AuditFacts {
        var facts = AuditFacts(now: clock.now())
        facts.tlsMinimumVersion = configuration.tls.minimumVersion == .tls13 ? "1.3" : "1.2"
        var suites = TLSConfiguration.makeClientConfiguration()
        suites.cipherSuiteValues = WardenServer.cipherSuites
        facts.cipherSuites = suites.cipherSuites.split(separator: ":").map(String.init)
        facts.listeners = listeners()
        facts.auditRetentionDays = configuration.audit.retentionDays
        facts.logLevel = configuration.logLevel.rawValue
        facts.sharedCredentials = directory.sharedCredentials().map {
            AuditFacts.SharedCredential(kind: $0.kind, devices: $0.devices)
        }
        for tenantID in directory.tenantIDs {
            try await gather(tenantID, into: &facts)
        }
        for user in access.users() {
            facts.people.append(
                AuditFacts.Person(
                    name: user.username.rawValue, kind: "user", isPlatformAdmin: user.isPlatformAdmin,
                    adminOf: user.roles.filter { $0.value == .owner || $0.value == .admin }.keys.sorted {
                        $0.rawValue < $1.rawValue
                    },
                    hasSecondFactor: user.totpSecret != nil, isEnabled: user.isEnabled))
        }
        return facts
    }

    /// The listeners as configured: MQTT/TLS, the plain one when on, and HTTPS.
    private func listeners() -> [AuditFacts.Listener] {
        let mqtt = configuration.mqtt
        var listeners = [
            AuditFacts.Listener(name: "mqtts", address: mqtt.address, usesTLS: true, anonymous: false),
            AuditFacts.Listener(
                name: "https", address: configuration.https.address, usesTLS: true, anonymous: false),
        ]
        if mqtt.plain.enabled {
            listeners.append(
                AuditFacts.Listener(
                    name: "mqtt", address: mqtt.plain.address, usesTLS: false, anonymous: mqtt.plain.anonymous != nil))
        }
        return listeners
    }

    /// One tenant's devices, certificates, policies, keys and live connections.
    private func gather(_ tenantID: TenantID, into facts: inout AuditFacts) async throws {
        let devices = directory.devices(in: tenantID)
        facts.devices += devices
        // A device connected now is seen now, however long ago it connected.
        for clientID in broker.connectedClientIDs(in: tenantID) {
            facts.lastConnections["\(tenantID)/\(clientID)"] = facts.now
        }
        for start in stride(from: 0, to: devices.count, by: Self.page) {
            let chunk = Array(devices[start..<min(start + Self.page, devices.count)])
            for entry in try await defender.inventory(of: chunk, in: tenantID) {
                guard let connection = entry.lastConnection else { continue }
                let key = "\(tenantID)/\(entry.device.id)"
                facts.lastConnections[key] = max(facts.lastConnections[key] ?? connection.at, connection.at)
                // Certificates of external CAs are known only as presented.
                if let notAfter = connection.certificateNotAfter, entry.device.authentication.type == .x509CA {
                    facts.certificates.append(
                        AuditFacts.Certificate(
                            kind: .device, tenantID: tenantID,
                            resource: "device \(tenantID)/\(entry.device.id) certificate (as presented)",
                            notAfter: notAfter))
                }
            }
        }
        // A device last sighted long ago may be connected to another node of a cluster since then: those are
        // asked about. (One never sighted would be connected for less than the 10 s between sightings.)
        let silentHere = devices.filter { device in
            device.status == .enabled
                && facts.lastConnections["\(tenantID)/\(device.id)"].map {
                    facts.now.timeIntervalSince($0) >= SecurityAudit.silentFor
                } == true
        }.map(\.id)
        for deviceID in await presence.connected(in: tenantID, among: silentHere) {
            facts.lastConnections["\(tenantID)/\(deviceID)"] = facts.now
        }
        for authority in try await registry.certificateAuthorities(tenantID) where authority.isVerified {
            facts.certificates.append(
                AuditFacts.Certificate(
                    kind: .authority, tenantID: tenantID, resource: "CA \(tenantID)/\(authority.name)",
                    notAfter: authority.notValidAfter))
        }
        let enabled = Set(devices.filter { $0.status == .enabled }.map(\.id))
        let disabled = Set(devices.filter { $0.status == .disabled }.map(\.id))
        let valid = try await issued(tenantID, .valid)
        let certified = Set(valid.map(\.deviceID))
        for certificate in valid {
            facts.certificates.append(
                AuditFacts.Certificate(
                    kind: .device, tenantID: tenantID,
                    resource: "device \(tenantID)/\(certificate.deviceID) certificate \(certificate.serial.serial)",
                    notAfter: certificate.notValidAfter))
            if disabled.contains(certificate.deviceID) {
                facts.disabledWithCertificates.insert("\(tenantID)/\(certificate.deviceID)")
            }
        }
        // An expired certificate matters while its device is enabled and holds no valid one.
        var seen: Set<DeviceID> = []
        for certificate in try await issued(tenantID, .expired).sorted(by: { $0.notValidAfter > $1.notValidAfter })
        where enabled.contains(certificate.deviceID) && !certified.contains(certificate.deviceID)
            && seen.insert(certificate.deviceID).inserted
        {
            facts.certificates.append(
                AuditFacts.Certificate(
                    kind: .device, tenantID: tenantID,
                    resource: "device \(tenantID)/\(certificate.deviceID) certificate \(certificate.serial.serial)",
                    notAfter: certificate.notValidAfter))
        }
        let revoked = Set(try await issued(tenantID, .revoked).map(\.serial))
        for (deviceID, serial) in broker.connectedCertificates(in: tenantID) where revoked.contains(serial) {
            facts.revokedInUse.append((tenantID, deviceID, serial.serial))
        }
        let policy = directory.authorizationPolicy(tenantID)
        facts.policyVersions[tenantID] = policy.enforced.version
        for statement in (policy.enforced.engine.statements + (policy.trial?.engine.statements ?? []))
        where statement.grantsEveryDeviceEveryTopic {
            facts.permissiveStatements.append((tenantID, statement.id))
        }
        for key in access.apiKeys(in: tenantID) where key.revokedAt == nil {
            facts.apiKeys.append(
                AuditFacts.Key(
                    id: key.id, name: key.name, tenantID: tenantID, createdAt: key.createdAt, expiresAt: key.expiresAt,
                    lastUsedAt: key.lastUsedAt))
        }
    }

    /// Every certificate of the tenant in `status`, page by page.
    private func issued(_ tenantID: TenantID, _ status: IssuedCertificate.Status) async throws -> [IssuedCertificate] {
        var found: [IssuedCertificate] = []
        var cursor: String?
        repeat {
            let page = try await certificates.certificates(
                tenantID, filter: IssuedCertificateFilter(status: status), after: cursor, limit: Self.page)
            found += page.items
            cursor = page.nextCursor
        } while cursor != nil
        return found
    }
}
