import Metrics
import Synchronization
import WardenCore
import WardenPolicy
import WardenSecurity

extension DeviceDirectory {
    /// Applies one committed change.
    func apply(_ event: DomainEvent) {
        switch event {
        // Not the registry's: nothing to take the lock for (these come with every connection and twin patch).
        case .authentication, .authorizationDenied, .twinReportedChanged, .registration, .enrollmentChanged,
            .banAdded, .banRemoved, .alertChanged, .cloudToDeviceChanged, .twinChanged,
            .enrollmentDeleted:
            return
        default: break
        }
        if case .authorizationPolicyChanged(let version) = event {
            // Compiled before taking the lock: reading a large document must not hold up the packet path.
            let policy = CompiledPolicy(version)
            state.withLock { state in
                state.tenants[version.tenantID]?.policy.adopt(policy)
                state.duringReload?.append(event)
            }
            changes.add(1, ordering: .releasing)
            return
        }
        let counts = state.withLock { state in
            Self.apply(event, to: &state)
            state.duringReload?.append(event)
            return (state.tenants.count, state.tenants.values.reduce(0) { $0 + $1.devices.count })
        }
        changes.add(1, ordering: .releasing)
        tenantGauge.record(counts.0)
        deviceGauge.record(counts.1)
    }

    static func apply(_ event: DomainEvent, to state: inout State) {
        switch event {
        // A copy arriving again (from another node) must not empty the tenant it describes.
        case .tenantCreated(let tenant) where state.tenants[tenant.id] == nil:
            state.tenants[tenant.id] = TenantEntry(tenant: tenant)
            state.tenantsByHost[tenant.hostName.rawValue] = tenant.id
        case .tenantDeleted(let id):
            if let host = state.tenants.removeValue(forKey: id)?.tenant.hostName {
                state.tenantsByHost[host.rawValue] = nil
            }
        case .deviceCreated(let device), .deviceUpdated(let device, _):
            state.tenants[device.tenantID]?.devices[device.id] = device
            let host = state.tenants[device.tenantID]?.tenant.hostName.rawValue ?? ""
            state.tenants[device.tenantID]?.keys[device.id] = keys(device, host: host)
        case .deviceDeleted(let tenantID, let deviceID):
            state.tenants[tenantID]?.devices[deviceID] = nil
            state.tenants[tenantID]?.keys[deviceID] = nil
            state.tenants[tenantID]?.groupsByDevice[deviceID] = nil
            // The store forgets its quarantine with it (ON DELETE CASCADE); a device made again starts normal.
            state.tenants[tenantID]?.risk[deviceID] = nil
            for name in state.tenants[tenantID]?.groups.keys.map({ $0 }) ?? [] {
                state.tenants[tenantID]?.groups[name]?.remove(deviceID)
            }
        case .groupChanged(let group):
            state.tenants[group.tenantID]?.groups[group.name] = group.members
            reindexGroups(&state, group.tenantID)
        case .groupDeleted(let tenantID, let name):
            state.tenants[tenantID]?.groups[name] = nil
            reindexGroups(&state, tenantID)
        case .accessListChanged(let tenantID, let list):
            state.tenants[tenantID]?.accessList = list
        case .ipFilterChanged(let tenantID, let filter):
            state.tenants[tenantID]?.ipFilter = filter
        case .policyChanged(let policy):
            state.tenants[policy.tenantID]?.policies[policy.name] = PolicyEntry(
                policy: policy, primary: SASKey(policy.keys.primary), secondary: SASKey(policy.keys.secondary))
        case .policyDeleted(let tenantID, let name):
            state.tenants[tenantID]?.policies[name] = nil
        case .certificateAuthorityChanged(let authority):
            state.tenants[authority.tenantID]?.authorities[authority.name] =
                authority.isVerified ? CertificateAuthorityCheck.certificate(pem: authority.certificatePEM) : nil
            state.tenants[authority.tenantID]?.revocationChecks[authority.thumbprint] =
                authority.revocationCheck.mode == .off ? nil : (authority.name, authority.revocationCheck)
        case .certificateAuthorityDeleted(let tenantID, let name):
            guard var tenant = state.tenants[tenantID] else { return }
            tenant.authorities[name] = nil
            tenant.revocationChecks = tenant.revocationChecks.filter { $0.value.name != name }
            tenant.revocationLists = tenant.revocationLists.filter { $0.value.authority != name }
            state.tenants[tenantID] = tenant
        case .certificateRevoked(let certificate):
            state.tenants[certificate.tenantID]?.revoked.insert(certificate.serial)
        case .revocationListChanged(let list):
            state.tenants[list.tenantID]?.revocationLists[list.issuer] = list
        case .quarantined(let quarantine):
            // A device deleted meanwhile is not quarantined in memory: one made again under its id starts normal.
            guard state.tenants[quarantine.tenantID]?.devices[quarantine.deviceID] != nil else { return }
            state.tenants[quarantine.tenantID]?.risk[quarantine.deviceID] = RiskLevel(rawValue: quarantine.level)
        case .released(let tenantID, let deviceID):
            state.tenants[tenantID]?.risk[deviceID] = nil
        case .certificateIssued:
            break
        case .tenantCreated, .authentication, .authorizationDenied, .authorizationPolicyChanged, .twinReportedChanged,
            .registration, .banAdded, .banRemoved, .alertChanged, .defenderActed, .defenderRulesChanged,
            .disconnectRequested,
            .cloudToDeviceRefused, .cloudToDeviceChanged, .twinChanged, .backupMade, .accessChanged,
            .enrollmentChanged, .enrollmentDeleted:
            break
        }
    }

    private static func keys(_ device: Device, host: String) -> DeviceKeys? {
        guard case .sas(let pair) = device.authentication else { return nil }
        return DeviceKeys(
            resource: "\(host)/devices/\(device.id.rawValue)", primary: SASKey(pair.primary),
            secondary: SASKey(pair.secondary))
    }

    private static func reindexGroups(_ state: inout State, _ tenantID: TenantID) {
        guard let groups = state.tenants[tenantID]?.groups else { return }
        var index: [DeviceID: Set<GroupName>] = [:]
        for (name, members) in groups {
            for member in members { index[member, default: []].insert(name) }
        }
        state.tenants[tenantID]?.groupsByDevice = index
    }
}
