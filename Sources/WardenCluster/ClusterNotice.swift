public import Foundation
public import WardenCore

/// A DomainEvent as it crosses to other nodes: what changed, by id, never the changed thing itself
/// (docs/scaling.md). A device or policy carries sealed keys; the receiving node reads the current value from
/// the shared store instead, so secrets never travel and a node that missed a notice is no worse off than one
/// that reads the store. The few events whose subject is gone from the store (a removed ban) or that never
/// were in it (a disconnection request) carry their plain, secret-free fields.
public struct ClusterNotice: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case tenantCreated, tenantDeleted
        case deviceCreated, deviceUpdated, deviceDeleted
        case groupChanged, groupDeleted
        case accessListChanged, ipFilterChanged
        case policyChanged, policyDeleted
        case certificateAuthorityChanged, certificateAuthorityDeleted
        case certificateRevoked
        case revocationListChanged
        case authorizationPolicyChanged
        case twinReportedChanged
        case enrollmentChanged, enrollmentDeleted
        case banAdded, banRemoved
        case alertResolved
        case quarantined, released
        case defenderRulesChanged
        case disconnectRequested
        case cloudToDeviceChanged
        case twinChanged
        case principalsChanged, signedOut, tokensRevoked
    }

    /// The node that published it, so that a node ignores its own.
    public var origin: UUID
    public var kind: Kind
    public var tenant: String?
    public var device: String?
    /// A group, policy or CA name; an enrollment's reference; a ban's subject value.
    public var name: String?
    /// A device change, a ban's subject kind, a disconnection's reason.
    public var detail: String?
    /// A certificate serial, an alert or ban id, a policy version number, a signed-out session, a user.
    public var id: String?
    /// A ban's reason and creator, a tenant's Defender rules document.
    public var text: String?
    public var by: String?
    public var at: Date?
    public var until: Date?
    public var alert: String?

    init(origin: UUID, kind: Kind, tenant: TenantID? = nil, device: DeviceID? = nil, name: String? = nil) {
        self.origin = origin
        self.kind = kind
        self.tenant = tenant?.rawValue
        self.device = device?.rawValue
        self.name = name
    }

    /// The notice for a local event; nil for events that stay on their node (an authentication, a denial, an
    /// issued certificate, a registration, a Defender action or alert, a backup, a refused C2D message: each
    /// is recorded by the node it happened on).
    public init?(_ event: DomainEvent, origin: UUID) {
        switch event {
        case .tenantCreated(let tenant): self.init(origin: origin, kind: .tenantCreated, tenant: tenant.id)
        case .tenantDeleted(let id): self.init(origin: origin, kind: .tenantDeleted, tenant: id)
        case .deviceCreated(let device):
            self.init(origin: origin, kind: .deviceCreated, tenant: device.tenantID, device: device.id)
        case .deviceUpdated(let device, let change):
            self.init(origin: origin, kind: .deviceUpdated, tenant: device.tenantID, device: device.id)
            detail = change.rawValue
        case .deviceDeleted(let tenantID, let deviceID):
            self.init(origin: origin, kind: .deviceDeleted, tenant: tenantID, device: deviceID)
        case .groupChanged(let group):
            self.init(origin: origin, kind: .groupChanged, tenant: group.tenantID, name: group.name.rawValue)
        case .groupDeleted(let tenantID, let name):
            self.init(origin: origin, kind: .groupDeleted, tenant: tenantID, name: name.rawValue)
        case .accessListChanged(let tenantID, _): self.init(origin: origin, kind: .accessListChanged, tenant: tenantID)
        case .ipFilterChanged(let tenantID, _): self.init(origin: origin, kind: .ipFilterChanged, tenant: tenantID)
        case .policyChanged(let policy):
            self.init(origin: origin, kind: .policyChanged, tenant: policy.tenantID, name: policy.name.rawValue)
        case .policyDeleted(let tenantID, let name):
            self.init(origin: origin, kind: .policyDeleted, tenant: tenantID, name: name.rawValue)
        case .certificateAuthorityChanged(let authority):
            self.init(
                origin: origin, kind: .certificateAuthorityChanged, tenant: authority.tenantID,
                name: authority.name.rawValue)
        case .certificateAuthorityDeleted(let tenantID, let name):
            self.init(origin: origin, kind: .certificateAuthorityDeleted, tenant: tenantID, name: name.rawValue)
        case .certificateRevoked(let certificate):
            self.init(origin: origin, kind: .certificateRevoked, tenant: certificate.tenantID)
            id = certificate.serial.serial
        case .revocationListChanged(let list):
            self.init(
                origin: origin, kind: .revocationListChanged, tenant: list.tenantID, name: list.authority.rawValue)
        case .authorizationPolicyChanged(let version):
            self.init(origin: origin, kind: .authorizationPolicyChanged, tenant: version.tenantID)
            id = String(version.number)
        case .twinReportedChanged(let tenantID, let deviceID):
            self.init(origin: origin, kind: .twinReportedChanged, tenant: tenantID, device: deviceID)
        case .enrollmentChanged(let enrollment):
            self.init(
                origin: origin, kind: .enrollmentChanged, tenant: enrollment.tenantID,
                name: enrollment.kind.reference)
        case .enrollmentDeleted(let tenantID, let kind):
            self.init(origin: origin, kind: .enrollmentDeleted, tenant: tenantID, name: kind.reference)
        case .banAdded(let ban), .banRemoved(let ban):
            if case .banAdded = event {
                self.init(origin: origin, kind: .banAdded)
            } else {
                self.init(origin: origin, kind: .banRemoved)
            }
            id = ban.id
            detail = ban.subject.kind
            name = ban.subject.value
            text = ban.reason
            by = ban.createdBy
            at = ban.createdAt
            until = ban.expiresAt
            alert = ban.alertID
        case .quarantined(let quarantine):
            self.init(origin: origin, kind: .quarantined, tenant: quarantine.tenantID, device: quarantine.deviceID)
        case .released(let tenantID, let deviceID):
            self.init(origin: origin, kind: .released, tenant: tenantID, device: deviceID)
        case .defenderRulesChanged(let tenantID, let document):
            self.init(origin: origin, kind: .defenderRulesChanged, tenant: tenantID)
            text = document
        case .disconnectRequested(let tenantID, let deviceID, let reason):
            self.init(origin: origin, kind: .disconnectRequested, tenant: tenantID, device: deviceID)
            detail = reason
        case .twinChanged(let tenantID, let deviceID, let twin, let patch):
            self.init(origin: origin, kind: .twinChanged, tenant: tenantID, device: deviceID)
            // The desired patch is what the device is told, with the version it made; the twin itself is read
            // from the store.
            let versioned = patch.map { patch in
                patch.merging(["$version": .number(twin?.desired.version ?? 0)]) { _, version in version }
            }
            text = versioned.flatMap { try? JSONEncoder().encode($0) }.map { String(decoding: $0, as: UTF8.self) }
        case .cloudToDeviceChanged(let tenantID, let deviceID, let sequence, _):
            self.init(origin: origin, kind: .cloudToDeviceChanged, tenant: tenantID, device: deviceID)
            id = String(sequence)
        case .accessChanged(.principals): self.init(origin: origin, kind: .principalsChanged)
        case .accessChanged(.signedOut(let session, let until)):
            self.init(origin: origin, kind: .signedOut)
            id = session
            self.until = until
        case .accessChanged(.tokensRevoked(let userID, let before)):
            self.init(origin: origin, kind: .tokensRevoked)
            id = userID
            until = before
        // A resolution crosses so that the node holding the device's behaviour learns it again.
        case .alertChanged(let alert) where alert.status == .resolved:
            self.init(origin: origin, kind: .alertResolved, tenant: alert.tenantID)
            id = alert.id
        // An alert is raised, sent (its webhook; its MQTT topic, routed to subscribers on every node like any
        // message) and recorded by the node whose rule raised it.
        case .certificateIssued, .registration, .authentication, .authorizationDenied,
            .defenderActed, .cloudToDeviceRefused, .backupMade, .alertChanged:
            return nil
        }
    }
}
