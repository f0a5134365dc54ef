public import WardenAuthentication
public import WardenCore
import WardenMQTT

/// Closes live connections the moment the registry revokes them (issue 3, "Live revocation"): it observes
/// the event bus synchronously, so the close is under way before the API call that caused it returns.
///
/// Disabling, blocking, deleting a device, changing its credentials or revoking the certificate it presented
/// closes its connection with DISCONNECT 0x98 (Administrative action) on 5.0; allow/block list and IP filter
/// changes re-check every connection of the tenant.
public struct LiveRevocation: Sendable {
    private let broker: Broker
    private let authenticator: DeviceAuthenticator

    public init(broker: Broker, authenticator: DeviceAuthenticator) {
        self.broker = broker
        self.authenticator = authenticator
    }

    /// Starts following `bus`.
    public func follow(_ bus: EventBus) {
        bus.observe { event in handle(event) }
    }

    func handle(_ event: DomainEvent) {
        switch event {
        case .deviceUpdated(let device, .keysRotated), .deviceUpdated(let device, .authentication):
            close(device.tenantID, device.id, because: "The device's credentials changed.")
        case .deviceUpdated(let device, .status):
            recheck(device.tenantID, only: device.id)
        case .deviceDeleted(let tenantID, let deviceID):
            close(tenantID, deviceID, because: "The device was deleted.")
        case .accessListChanged(let tenantID, _), .ipFilterChanged(let tenantID, _):
            recheck(tenantID, only: nil)
        case .groupChanged(let group):
            // Allow and block lists may name groups.
            recheck(group.tenantID, only: nil)
        case .certificateAuthorityChanged(let authority) where authority.revocationCheck.mode == .hardFail:
            recheck(authority.tenantID, only: nil, certificatesOnly: true)
        case .certificateAuthorityDeleted(let tenantID, _):
            // Devices that proved themselves through a tenant CA reconnect and prove it again.
            for session in broker.connectedSessions(in: tenantID) where session.sink?.device?.method == .x509CA {
                session.sink?.close(.administrativeAction, reasonString: "A certificate authority was removed.")
            }
        case .certificateRevoked(let certificate):
            for session in broker.connectedSessions(in: certificate.tenantID)
            where session.sink?.device?.certificate == certificate.serial {
                session.sink?.close(.administrativeAction, reasonString: "The client certificate was revoked.")
            }
        case .revocationListChanged(let list):
            // Any certificate on a connection's path may be listed; only certificate connections are checked.
            recheck(list.tenantID, only: nil, certificatesOnly: true)
        case .policyChanged(let policy):
            closeServices(policy.tenantID, policy.name, because: "The shared access policy changed.")
        case .policyDeleted(let tenantID, let name):
            closeServices(tenantID, name, because: "The shared access policy was deleted.")
        case .tenantDeleted(let tenantID):
            for session in broker.connectedSessions(in: tenantID) {
                session.sink?.close(.administrativeAction, reasonString: "The tenant was deleted.")
            }
        case .banAdded(let ban):
            closeBanned(ban)
        case .disconnectRequested(let tenantID, let deviceID, let reason):
            close(tenantID, deviceID, because: reason)
        default:
            break
        }
    }

    private func close(_ tenantID: TenantID, _ deviceID: DeviceID, because reason: String) {
        let key = SessionKey(tenantID: tenantID, clientID: deviceID.rawValue)
        guard let sink = broker.session(key)?.sink, sink.device?.deviceID == deviceID else { return }
        sink.close(.administrativeAction, reasonString: reason)
    }

    /// A device or client-id ban closes the live connections it names; an address ban refuses new connections
    /// only (an attacker behind a NAT does not cut off the honest devices already connected through it).
    private func closeBanned(_ ban: Ban) {
        // The client hears that it is banned and the ban's id, not the operator's reason.
        let reason = "Banned (ban \(ban.id))."
        switch ban.subject {
        case .device(let tenantID, let deviceID):
            close(tenantID, deviceID, because: reason)
        case .clientID(let clientID):
            for tenantID in broker.tenantsWithSessions() {
                broker.session(SessionKey(tenantID: tenantID, clientID: clientID))?.sink?.close(
                    .administrativeAction, reasonString: reason)
            }
        case .address:
            break
        }
    }

    private func closeServices(_ tenantID: TenantID, _ name: PolicyName, because reason: String) {
        for session in broker.connectedSessions(in: tenantID) {
            guard let sink = session.sink, case .service(let service) = sink.identity, service.policyName == name
            else { continue }
            sink.close(.administrativeAction, reasonString: reason)
        }
    }

    private func recheck(_ tenantID: TenantID, only deviceID: DeviceID?, certificatesOnly: Bool = false) {
        let sessions =
            deviceID.map { id in
                broker.session(SessionKey(tenantID: tenantID, clientID: id.rawValue)).map { [$0] } ?? []
            } ?? broker.connectedSessions(in: tenantID)
        for session in sessions {
            guard let sink = session.sink, let device = sink.device,
                !certificatesOnly || !device.certificatePath.isEmpty,
                let revocation = authenticator.revocation(of: device, peerAddress: sink.peerAddress)
            else { continue }
            sink.close(.administrativeAction, reasonString: revocation.reason)
        }
    }
}
