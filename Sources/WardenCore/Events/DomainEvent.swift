public import Foundation

/// What the in-process bus carries: committed changes in the registry (published after the write transaction
/// so subscribers never see a change that could still roll back), and device-facing authentication outcomes.
public enum DomainEvent: Sendable {
    case tenantCreated(Tenant)
    case tenantDeleted(TenantID)
    case deviceCreated(Device)
    case deviceUpdated(Device, DeviceChange)
    case deviceDeleted(TenantID, DeviceID)
    case groupChanged(DeviceGroup)
    case groupDeleted(TenantID, GroupName)
    case accessListChanged(TenantID, AccessList)
    case ipFilterChanged(TenantID, IPFilter)
    case policyChanged(SharedAccessPolicy)
    case policyDeleted(TenantID, PolicyName)
    case certificateAuthorityChanged(CertificateAuthority)
    case certificateAuthorityDeleted(TenantID, CAName)
    /// One of the tenant's issuing CAs signed a device certificate.
    case certificateIssued(IssuedCertificate)
    /// A certificate Warden issued was revoked: connections that presented it close.
    case certificateRevoked(IssuedCertificate)
    /// An external CA's CRL in force changed (uploaded or fetched): connections it revokes close.
    case revocationListChanged(RevocationListState)
    /// A tenant's authorization policy has a new version in force (written, or rolled back to an earlier one).
    case authorizationPolicyChanged(AuthorizationPolicyVersion)
    /// A device's reported properties changed, committed (policy conditions may read them).
    case twinReportedChanged(TenantID, DeviceID)
    /// A device's twin changed, committed: `twin` as stored now (nil: none), and `desiredPatch` when the desired
    /// properties were patched (what the device is told). Other nodes' copies follow it.
    case twinChanged(TenantID, DeviceID, twin: DeviceTwin?, desiredPatch: [String: JSONValue]?)
    /// An enrollment was created or changed (enabled, disabled), with its keys.
    case enrollmentChanged(Enrollment)
    case enrollmentDeleted(TenantID, Enrollment.Kind)
    /// A device tried to provision itself (DPS), and was assigned or refused.
    case registration(RegistrationRecord)
    /// A device-facing connection authenticated or was refused.
    case authentication(AuthenticationRecord)
    /// A connected client's PUBLISH or SUBSCRIBE was refused by policy.
    case authorizationDenied(AuthorizationDenial)
    /// A ban was put in force (issue 16), or removed.
    case banAdded(Ban)
    case banRemoved(Ban)
    /// An alert was raised, counted again, acknowledged or resolved.
    case alertChanged(Alert)
    /// A device's risk level was raised (quarantine), or brought back to normal.
    case quarantined(Quarantine)
    case released(TenantID, DeviceID)
    /// The Defender answered an alert by itself (a ban, a disconnection, a quarantine, a disabled device).
    case defenderActed(DefenderAction)
    /// A tenant's Defender rules document changed (nil: back to the platform's defaults).
    case defenderRulesChanged(TenantID, String?)
    /// A device's live connections are to close (an operator's or the Defender's disconnection).
    case disconnectRequested(TenantID, DeviceID, reason: String)
    /// A device turned a cloud-to-device message down (rejected it, or abandoned it), committed.
    case cloudToDeviceRefused(TenantID, DeviceID, rejected: Bool)
    /// A cloud-to-device message was queued, settled or changed (committed): `message` is what the store holds
    /// now, nil once it left the queue. Other nodes' copies of the queue follow it.
    case cloudToDeviceChanged(TenantID, DeviceID, sequence: Int64, message: CloudToDeviceMessage?)
    /// A backup was sent whole (`warden backup create`).
    case backupMade(at: Date, withPassphrase: Bool)
    /// People, services, API keys or signing keys changed, committed, or a session was signed out: the other
    /// nodes' views of who may manage the hub follow.
    case accessChanged(AccessChange)

    /// The tenant the event belongs to (nil for an authentication attempt naming no known tenant).
    public var tenantID: TenantID? {
        switch self {
        case .authentication(let record): record.tenantID
        case .registration(let record): record.tenantID
        case .enrollmentChanged(let enrollment): enrollment.tenantID
        case .enrollmentDeleted(let tenantID, _): tenantID
        case .authorizationDenied(let denial): denial.tenantID
        case .tenantCreated(let tenant): tenant.id
        case .deviceCreated(let device), .deviceUpdated(let device, _): device.tenantID
        case .groupChanged(let group): group.tenantID
        case .policyChanged(let policy): policy.tenantID
        case .certificateAuthorityChanged(let authority): authority.tenantID
        case .certificateIssued(let certificate), .certificateRevoked(let certificate): certificate.tenantID
        case .revocationListChanged(let list): list.tenantID
        case .authorizationPolicyChanged(let version): version.tenantID
        case .banAdded(let ban), .banRemoved(let ban):
            if case .device(let tenantID, _) = ban.subject { tenantID } else { nil }
        case .alertChanged(let alert): alert.tenantID
        case .quarantined(let quarantine): quarantine.tenantID
        case .released(let tenantID, _): tenantID
        case .defenderActed(let action): action.tenantID
        case .defenderRulesChanged(let tenantID, _), .disconnectRequested(let tenantID, _, _),
            .cloudToDeviceRefused(let tenantID, _, _), .cloudToDeviceChanged(let tenantID, _, _, _):
            tenantID
        case .backupMade, .accessChanged: nil
        case .tenantDeleted(let id), .deviceDeleted(let id, _), .groupDeleted(let id, _),
            .accessListChanged(let id, _), .ipFilterChanged(let id, _), .policyDeleted(let id, _),
            .certificateAuthorityDeleted(let id, _), .twinReportedChanged(let id, _), .twinChanged(let id, _, _, _):
            id
        }
    }
}

/// What about a device changed, so that the broker can tell "disconnect now" from "nothing to do".
public enum DeviceChange: String, Sendable, CaseIterable {
    case status
    case keysRotated
    case authentication
    case attributes
}

/// What changed among the hub's people and services (`DomainEvent.accessChanged`).
public enum AccessChange: Sendable, Equatable {
    /// Users, service principals, roles, API keys or signing keys: read them again from the store.
    case principals
    /// A session was signed out: its access tokens stop working at once, until the last of them expires.
    case signedOut(session: String, until: Date)
    /// Every access token a user was given before `before` stops working (a password change).
    case tokensRevoked(userID: String, before: Date)
}
