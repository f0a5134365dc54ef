import Synchronization
public import WardenCore
public import WardenSecurity

extension DeviceDirectory {
    /// Authenticates a device's SAS token: the device must exist in the tenant, and the token must be scoped to
    /// `{tenant host}/devices/{device id}` and signed with one of the device's keys, or with a tenant shared
    /// access policy (`skn`) that grants `deviceConnect`.
    ///
    /// - Throws: `device.not_found`, `device.not_sas`, `shared_access_policy.not_found`, `auth.forbidden` or
    ///   the verifier's `sas.*` codes. Callers facing a device give every failure the same answer.
    public func authenticate(
        _ token: SASToken, tenantID: TenantID, deviceID: DeviceID, now: UInt64
    ) throws(WardenError) -> Entry {
        let found: (Entry, Tenant, PolicyEntry?)? = state.withLock { state in
            guard let tenant = state.tenants[tenantID], let device = tenant.devices[deviceID] else { return nil }
            let entry = Entry(
                device: device, keys: tenant.keys[deviceID], groups: tenant.groupsByDevice[deviceID] ?? [])
            return (entry, tenant.tenant, token.keyName.flatMap { tenant.policies[$0] })
        }
        guard let (entry, tenant, policy) = found else {
            throw WardenError(.deviceNotFound, "There is no device '\(deviceID)' in tenant '\(tenantID)'.")
        }
        if let name = token.keyName {
            guard let policy else {
                throw WardenError(.policyNotFound, "There is no shared access policy '\(name)' in '\(tenantID)'.")
            }
            try SASTokenVerifier.verify(
                token, resource: "\(tenant.hostName.rawValue)/devices/\(deviceID.rawValue)", primary: policy.primary,
                secondary: policy.secondary, now: now)
            guard policy.policy.permissions.contains(.deviceConnect) else {
                throw WardenError(.authForbidden, "Shared access policy '\(name)' does not grant deviceConnect.")
            }
            return entry
        }
        guard let keys = entry.keys else {
            throw WardenError(.deviceNotSAS, "Device '\(deviceID)' does not authenticate with SAS tokens.")
        }
        try SASTokenVerifier.verify(
            token, resource: keys.resource, primary: keys.primary, secondary: keys.secondary, now: now)
        return entry
    }
}

extension DeviceDirectory {
    /// Authenticates a backend service's SAS token: signed with the tenant shared access policy it names
    /// (`skn`), scoped to the tenant's host name, and the policy grants `serviceConnect`.
    ///
    /// - Throws: `shared_access_policy.not_found`, `auth.forbidden` or the verifier's `sas.*` codes.
    public func authenticateService(
        _ token: SASToken, tenantID: TenantID, policy name: PolicyName, now: UInt64
    ) throws(WardenError) -> SharedAccessPolicy {
        let found: (PolicyEntry, HostName)? = state.withLock { state in
            guard let tenant = state.tenants[tenantID], let policy = tenant.policies[name] else { return nil }
            return (policy, tenant.tenant.hostName)
        }
        guard let (policy, host) = found, token.keyName == name else {
            throw WardenError(.policyNotFound, "There is no shared access policy '\(name)' in '\(tenantID)'.")
        }
        // The signature first: without the key, nobody learns what the policy grants.
        try SASTokenVerifier.verify(
            token, resource: host.rawValue, primary: policy.primary, secondary: policy.secondary, now: now)
        guard policy.policy.permissions.contains(.serviceConnect) else {
            throw WardenError(.authForbidden, "Shared access policy '\(name)' does not grant serviceConnect.")
        }
        return policy.policy
    }
}
