public import Foundation
import Metrics
import Synchronization
public import WardenCore
public import WardenPolicy
public import WardenSecurity
public import WardenStore
public import X509

/// The in-memory view of the registry that the device path reads: tenants by host name, devices with their
/// keys ready for HMAC, group memberships, access lists, IP filters and shared access policies.
///
/// It is loaded once from the store and then kept current by observing the event bus; because observers run
/// synchronously after each commit, a lookup after a registry call returns sees that call's change.
/// Reads take a `Mutex` briefly and copy out one entry (STYLE R6.3).
public final class DeviceDirectory: Sendable {
    /// What the device path needs about one device.
    public struct Entry: Sendable {
        /// The device as registered (its keys stay inside `Device.Authentication`).
        public let device: Device
        /// The SAS keys as keyed HMAC states, built once per change rather than per token.
        public let keys: DeviceKeys?
        /// The groups it belongs to.
        public let groups: Set<GroupName>
    }

    /// A device's keys ready for verification, with the resource URI its tokens must cover.
    public struct DeviceKeys: Sendable {
        /// `{tenant host}/devices/{device id}`.
        public let resource: String
        public let primary: SASKey
        public let secondary: SASKey
    }

    struct PolicyEntry: Sendable {
        let policy: SharedAccessPolicy
        let primary: SASKey
        let secondary: SASKey
    }

    struct TenantEntry: Sendable {
        var tenant: Tenant
        var devices: [DeviceID: Device] = [:]
        var keys: [DeviceID: DeviceKeys] = [:]
        var groups: [GroupName: Set<DeviceID>] = [:]
        var groupsByDevice: [DeviceID: Set<GroupName>] = [:]
        var accessList = AccessList(allow: .init(), block: .init(), etag: "")
        var ipFilter = IPFilter.acceptAll(etag: "")
        var policies: [PolicyName: PolicyEntry] = [:]
        /// Verified CAs for `x509-ca` devices.
        var authorities: [CAName: Certificate] = [:]
        /// Certificates Warden issued and then revoked, until they expire: refused at connect, closed when live.
        var revoked: Set<CertificateSerial> = []
        /// External CAs' revocation checks and CRLs in force, by the CA certificate's thumbprint.
        var revocationChecks: [Thumbprint: (name: CAName, check: RevocationCheck)] = [:]
        /// Devices the Defender raised above `normal` (quarantine).
        var risk: [DeviceID: RiskLevel] = [:]
        var revocationLists: [Thumbprint: RevocationListState] = [:]
        /// The authorization policy in force.
        var policy = TenantPolicy.shipped
    }

    struct State: Sendable {
        var tenants: [TenantID: TenantEntry] = [:]
        var tenantsByHost: [String: TenantID] = [:]
        /// While `reload` reads the store: the changes applied meanwhile, applied again to what it read so that
        /// none is lost (a device disabled here during the reading stays disabled).
        var duringReload: [DomainEvent]?
    }

    let state = Mutex(State())
    /// Moved on after each change of `state` (`PolicyFacts.generation`).
    let changes = Atomic<UInt64>(0)
    let deviceGauge = Gauge(label: "warden_registry_devices")
    let tenantGauge = Gauge(label: "warden_registry_tenants")

    /// An empty directory; call `load` and `follow` before serving.
    public init() {}

    /// Observes `bus` so that every committed change updates the directory.
    public func follow(_ bus: EventBus) {
        bus.observe { [weak self] event in self?.apply(event) }
    }

    /// Fills the directory from the store (at start-up, before listeners open).
    public func load(
        tenants: some TenantStore, devices: some DeviceStore, groups: some GroupStore,
        admission: some AdmissionStore, policies: some PolicyStore,
        authorities: some CertificateAuthorityStore & IssuedCertificateStore,
        authorizationPolicies: some AuthorizationPolicyStore
    ) async throws {
        _ = try await reload(
            tenants: tenants, devices: devices, groups: groups, admission: admission, policies: policies,
            authorities: authorities, authorizationPolicies: authorizationPolicies)
    }

    /// Reads the registry again and replaces what the directory holds, whole (a node of a cluster that may have
    /// missed other nodes' notices: NATS was away, or too many came at once). What the store does not say —
    /// external CAs' CRLs in force and the Defender's risk levels — is kept. Returns what changed meanwhile, as the
    /// events live connections (and the caches that follow the bus) must hear: devices gone (`deviceDeleted`) or
    /// changed in any way (`deviceUpdated` as a status or an authentication change, so that their connections
    /// close and authenticate again), and of the tenants it held, a tenant gone, its access list or IP filter,
    /// groups, shared access policies, CAs, revoked certificates and authorization policy version.
    @discardableResult
    public func reload(
        tenants: some TenantStore, devices: some DeviceStore, groups: some GroupStore,
        admission: some AdmissionStore, policies: some PolicyStore,
        authorities: some CertificateAuthorityStore & IssuedCertificateStore,
        authorizationPolicies: some AuthorizationPolicyStore
    ) async throws -> [DomainEvent] {
        // From before the first read: a change applied while any part is read is applied again to the result.
        // Should a read fail, changes stop being kept for it.
        state.withLock { $0.duringReload = [] }
        var replaced = false
        defer { if !replaced { state.withLock { $0.duringReload = nil } } }
        var all: [Tenant] = []
        var cursor: String?
        repeat {
            let page = try await tenants.tenants(after: cursor, limit: 1000)
            all += page.items
            cursor = page.nextCursor
        } while cursor != nil
        var fresh = State()
        for tenant in all { Self.apply(.tenantCreated(tenant), to: &fresh) }
        for device in try await devices.allDevices() { Self.apply(.deviceCreated(device), to: &fresh) }
        let readGroups = try await groups.allGroups()
        for group in readGroups { Self.apply(.groupChanged(group), to: &fresh) }
        for (tenantID, (list, filter)) in try await admission.allAdmissionRules() {
            Self.apply(.accessListChanged(tenantID, list), to: &fresh)
            Self.apply(.ipFilterChanged(tenantID, filter), to: &fresh)
        }
        let readPolicies = try await policies.allPolicies()
        for policy in readPolicies { Self.apply(.policyChanged(policy), to: &fresh) }
        let readAuthorities = try await authorities.allCertificateAuthorities()
        for authority in readAuthorities { Self.apply(.certificateAuthorityChanged(authority), to: &fresh) }
        let readRevoked = try await authorities.revokedCertificates(notExpiredAt: Date())
        for certificate in readRevoked { Self.apply(.certificateRevoked(certificate), to: &fresh) }
        // Oldest first per tenant: an audit-only version is tried beside the enforced one before it.
        let readVersions = try await authorizationPolicies.currentPolicyVersions()
        for version in readVersions {
            fresh.tenants[version.tenantID]?.policy.adopt(CompiledPolicy(version))
        }
        let old = state.withLock { state in
            for event in state.duringReload ?? [] {
                if case .authorizationPolicyChanged(let version) = event {
                    fresh.tenants[version.tenantID]?.policy.adopt(CompiledPolicy(version))
                } else {
                    Self.apply(event, to: &fresh)
                }
            }
            fresh.duringReload = nil
            for (tenantID, entry) in state.tenants where fresh.tenants[tenantID] != nil {
                fresh.tenants[tenantID]?.revocationLists = entry.revocationLists
                fresh.tenants[tenantID]?.risk = entry.risk
            }
            defer { state = fresh }
            return state
        }
        replaced = true
        changes.add(1, ordering: .releasing)
        tenantGauge.record(fresh.tenants.count)
        deviceGauge.record(fresh.tenants.values.reduce(0) { $0 + $1.devices.count })
        var changed: [DomainEvent] = []
        for (tenantID, entry) in old.tenants {
            guard let now = fresh.tenants[tenantID] else {
                changed.append(.tenantDeleted(tenantID))
                continue
            }
            changed += Self.changes(from: entry, to: now, in: tenantID)
        }
        let held = old.tenants
        changed += readGroups.filter { group in
            held[group.tenantID].map { $0.groups[group.name] != group.members } ?? false
        }.map { .groupChanged($0) }
        changed += readPolicies.filter { policy in
            guard let was = held[policy.tenantID]?.policies[policy.name]?.policy else {
                return held[policy.tenantID] != nil
            }
            return was.permissions != policy.permissions || was.keys.primary.bytes != policy.keys.primary.bytes
                || was.keys.secondary.bytes != policy.keys.secondary.bytes
        }.map { .policyChanged($0) }
        for authority in readAuthorities {
            guard let was = held[authority.tenantID] else { continue }
            let certificate =
                authority.isVerified ? CertificateAuthorityCheck.certificate(pem: authority.certificatePEM) : nil
            // Deleted and made again under its name: what proved itself through the old one proves itself again.
            if let old = was.authorities[authority.name], let certificate, old != certificate {
                changed.append(.certificateAuthorityDeleted(authority.tenantID, authority.name))
                changed.append(.certificateAuthorityChanged(authority))
                continue
            }
            let check = was.revocationChecks[authority.thumbprint]
            if (was.authorities[authority.name] != nil) != (certificate != nil)
                || check?.check != authority.revocationCheck
                    && !(check == nil && authority.revocationCheck.mode == .off)
            {
                changed.append(.certificateAuthorityChanged(authority))
            }
        }
        for (tenantID, entry) in held where fresh.tenants[tenantID] != nil {
            let stored = Set(readAuthorities.filter { $0.tenantID == tenantID }.map(\.name))
            changed += entry.authorities.keys.filter { !stored.contains($0) }.map {
                .certificateAuthorityDeleted(tenantID, $0)
            }
            if let newest = readVersions.last(where: { $0.tenantID == tenantID }),
                newest.number != entry.policy.newest.version
            {
                changed.append(.authorizationPolicyChanged(newest))
            }
        }
        changed += readRevoked.filter { certificate in
            held[certificate.tenantID].map { !$0.revoked.contains(certificate.serial) } ?? false
        }.map { .certificateRevoked($0) }
        return changed
    }

    /// What changed in one tenant the directory held, as events: its devices, access list, IP filter, and the
    /// groups and shared access policies that are gone.
    private static func changes(from old: TenantEntry, to new: TenantEntry, in tenantID: TenantID) -> [DomainEvent] {
        var changed: [DomainEvent] = []
        for (id, device) in old.devices {
            guard let now = new.devices[id] else {
                changed.append(.deviceDeleted(tenantID, id))
                continue
            }
            if now.etag != device.etag {
                changed.append(.deviceUpdated(now, now.status == .enabled ? .authentication : .status))
            }
        }
        if new.accessList.etag != old.accessList.etag { changed.append(.accessListChanged(tenantID, new.accessList)) }
        if new.ipFilter.etag != old.ipFilter.etag { changed.append(.ipFilterChanged(tenantID, new.ipFilter)) }
        changed += old.groups.keys.filter { new.groups[$0] == nil }.map { .groupDeleted(tenantID, $0) }
        changed += old.policies.keys.filter { new.policies[$0] == nil }.map { .policyDeleted(tenantID, $0) }
        return changed
    }

    /// Every tenant's verified CA certificates, for validating device chains during the TLS handshake.
    public func verifiedAuthorities() -> [TenantID: [Certificate]] {
        state.withLock { state in
            state.tenants.compactMapValues { $0.authorities.isEmpty ? nil : Array($0.authorities.values) }
        }
    }

    /// Why a certificate path (leaf first, each serial under its issuer) proves nothing in the tenant at `now`:
    /// a certificate on it was revoked (by Warden's CA or an external CA's CRL), or a hard-fail CA on it has no
    /// current CRL. Nil when nothing stands against it.
    public func revocation(_ tenantID: TenantID, path: [CertificateSerial], now: Date) -> WardenError? {
        guard !path.isEmpty else { return nil }
        return state.withLock { state in
            guard let tenant = state.tenants[tenantID] else { return nil }
            for (index, serial) in path.enumerated() {
                if tenant.revoked.contains(serial)
                    || tenant.revocationLists[serial.issuer]?.serials.contains(serial.serial) == true
                {
                    let what =
                        index == 0 ? "The client certificate" : "A CA certificate on the client certificate's path"
                    return WardenError(.authCertificateRevoked, "\(what) (serial \(serial.serial)) was revoked.")
                }
                // With OCSP, the responder decides at connection: a missing CRL is not a refusal.
                if let (name, check) = tenant.revocationChecks[serial.issuer], check.mode == .hardFail, !check.ocsp,
                    tenant.revocationLists[serial.issuer]?.isCurrent(at: now) != true
                {
                    return WardenError(
                        .authRevocationUnknown,
                        "CA '\(name)' checks revocation hard-fail and has no current CRL: the certificate's status is unknown."
                    )
                }
            }
            return nil
        }
    }

    /// The tenant's CA that issued under `issuer` (a certificate's thumbprint), when it asks OCSP responders at
    /// connection, and whether it fails hard.
    public func ocspCheck(_ tenantID: TenantID, issuer: Thumbprint) -> (name: CAName, hardFail: Bool)? {
        state.withLock { state in
            guard let (name, check) = state.tenants[tenantID]?.revocationChecks[issuer], check.ocsp else { return nil }
            return (name, check.mode == .hardFail)
        }
    }

    /// The CRL in force for one of the tenant's CAs, if any.
    public func revocationList(_ tenantID: TenantID, _ name: CAName) -> RevocationListState? {
        state.withLock { state in state.tenants[tenantID]?.revocationLists.values.first { $0.authority == name } }
    }

    /// The tenant whose devices name `hostName` (case-insensitive).
    public func tenant(forHost hostName: some StringProtocol) -> TenantID? {
        let key = hostName.lowercased()
        return state.withLock { $0.tenantsByHost[key] }
    }

    /// The device's entry, or nil when the tenant or device is unknown.
    public func entry(_ tenantID: TenantID, _ deviceID: DeviceID) -> Entry? {
        state.withLock { state in
            guard let tenant = state.tenants[tenantID], let device = tenant.devices[deviceID] else { return nil }
            return Entry(
                device: device, keys: tenant.keys[deviceID], groups: tenant.groupsByDevice[deviceID] ?? [])
        }
    }

    /// What the tenant's access list says about a device.
    public func accessVerdict(_ tenantID: TenantID, _ deviceID: DeviceID) -> AccessList.Verdict? {
        state.withLock { state in
            guard let tenant = state.tenants[tenantID] else { return nil }
            return tenant.accessList.evaluate(deviceID, groups: tenant.groupsByDevice[deviceID] ?? [])
        }
    }

    /// What the tenant's IP filter says about an address.
    public func ipVerdict(_ tenantID: TenantID, _ address: IPAddress) -> IPFilter.Verdict? {
        state.withLock { $0.tenants[tenantID]?.ipFilter.evaluate(address) }
    }

    /// The tenant's authorization policy in force (the shipped statements for a tenant it does not know).
    public func authorizationPolicy(_ tenantID: TenantID) -> TenantPolicy {
        state.withLock { $0.tenants[tenantID]?.policy ?? .shipped }
    }

    /// How many devices are registered across tenants.
    public var deviceCount: Int { state.withLock { $0.tenants.values.reduce(0) { $0 + $1.devices.count } } }

    /// Every tenant's id (the Defender's audit goes through them).
    public var tenantIDs: [TenantID] { state.withLock { $0.tenants.keys.sorted { $0.rawValue < $1.rawValue } } }

    /// Every device of `tenantID`, by id.
    public func devices(in tenantID: TenantID) -> [Device] {
        state.withLock { ($0.tenants[tenantID]?.devices.values).map(Array.init) ?? [] }.sorted {
            $0.id.rawValue < $1.id.rawValue
        }
    }

    /// Groups of devices, across tenants, that share one credential: the same SAS key (in either slot), or the
    /// same certificate thumbprint. Keys are compared by a keyed hash (no copy of a key leaves the lock).
    public func sharedCredentials() -> [(kind: String, devices: [(TenantID, DeviceID)])] {
        // The keys are copied out under the lock and hashed after it: the device path reads this lock.
        var keys: [(TenantID, DeviceID, [SecretBytes])] = []
        var byThumbprint: [String: [(TenantID, DeviceID)]] = [:]
        state.withLock { state in
            for (tenantID, tenant) in state.tenants {
                for (deviceID, device) in tenant.devices {
                    switch device.authentication {
                    case .sas(let pair):
                        keys.append((tenantID, deviceID, [pair.primary, pair.secondary]))
                    case .x509Thumbprint(let primary, let secondary):
                        for thumbprint in Set([primary.rawValue] + (secondary.map { [$0.rawValue] } ?? [])) {
                            byThumbprint[thumbprint, default: []].append((tenantID, deviceID))
                        }
                    case .x509CA:
                        break
                    }
                }
            }
        }
        var byKey: [String: [(TenantID, DeviceID)]] = [:]
        for (tenantID, deviceID, pair) in keys {
            // Both slots of one device hold one key while it rotates: each key counts once per device.
            for key in Set(pair.map { Hex.encode(BearerCredential.hash($0)) }) {
                byKey[key, default: []].append((tenantID, deviceID))
            }
        }
        return byKey.values.filter { $0.count > 1 }.map { ("SAS key", $0) }
            + byThumbprint.values.filter { $0.count > 1 }.map { ("certificate thumbprint", $0) }
    }
}

extension DeviceDirectory: PolicyFacts {
    public var generation: UInt64 { changes.load(ordering: .acquiring) }

    public func policy(_ tenantID: TenantID, device deviceID: DeviceID?) -> (
        TenantPolicy, PolicyRequestor.DeviceFacts?
    ) {
        state.withLock { state in
            guard let tenant = state.tenants[tenantID] else { return (.shipped, nil) }
            guard let deviceID, let device = tenant.devices[deviceID] else { return (tenant.policy, nil) }
            return (
                tenant.policy,
                PolicyRequestor.DeviceFacts(
                    id: deviceID, groups: tenant.groupsByDevice[deviceID] ?? [], attributes: device.attributes,
                    authentication: device.authentication.type, risk: tenant.risk[deviceID] ?? .normal)
            )
        }
    }
}
