import Foundation
import WardenAuthentication
import WardenAzure
import WardenCore
import WardenPolicy

/// Who a connection is once CONNECT has been accepted; every topic decision starts from this, never from
/// strings the client chose.
enum ClientIdentity: Sendable {
    case device(DeviceIdentity)
    /// A backend application (a shared access policy with `serviceConnect`).
    case service(ServiceIdentity)
    /// A client without credentials on a listener that admits them (loopback development and conformance).
    case anonymous(TenantID, AnonymousAccess)
    /// A device provisioning itself (DPS): it may only ask for its registration and read the answers.
    case registration(RegistrationIdentity)

    /// When the credential stops being valid, in Unix seconds.
    var expiry: UInt64? {
        switch self {
        case .device(let identity): identity.expiry
        case .service(let identity): identity.expiry
        case .anonymous, .registration: nil
        }
    }

    /// The session name for the ClientId the client chose: services get their own space, so that no ClientId a
    /// service picks can take over a device's session.
    func sessionKey(clientID: String) -> SessionKey {
        switch self {
        case .service(let identity):
            SessionKey(tenantID: identity.tenantID, clientID: "$service/\(identity.policyName)/\(clientID)")
        case .registration(let identity):
            SessionKey(tenantID: identity.tenantID, clientID: "$dps/\(identity.registrationID)")
        default:
            SessionKey(tenantID: tenantID, clientID: clientID)
        }
    }

    /// Whether this is a development listener's anonymous client (its listener's fixed access decides for it).
    var isAnonymous: Bool {
        if case .anonymous = self { true } else { false }
    }

    /// The policy's question for `action` by this identity; nil for an anonymous client, whose listener's fixed
    /// access decides instead.
    func request(_ action: PolicyAction, _ resource: AuthorizationRequest.Resource?) -> AuthorizationRequest? {
        let subject: AuthorizationRequest.Subject
        switch self {
        case .device(let identity): subject = .device(identity.deviceID)
        case .service(let identity): subject = .service(identity.policyName, permissions: identity.permissions)
        case .anonymous, .registration: return nil
        }
        return AuthorizationRequest(tenantID: tenantID, subject: subject, action: action, resource: resource)
    }

    /// The record of `decision` refusing `action` on `target` (a topic, filter or ClientId) to this identity.
    func denial(
        _ decision: Decision, action: PolicyAction, target: String, clientID: String, context: PolicyContext, at: Date
    ) -> AuthorizationDenial {
        AuthorizationDenial(
            tenantID: tenantID, principal: principal(clientID: clientID),
            peerAddress: context.peerAddress ?? .unspecified, protocolName: context.protocolName,
            action: decision.action ?? action.rawValue, topic: target, unmetConditions: decision.unmetConditions,
            statementID: decision.statementID, policyVersion: decision.policyVersion,
            referenceID: decision.referenceID, at: at, deviceID: deviceIdentity?.deviceID)
    }

    /// The name records use: the device id, `$service/{policy}`, or an anonymous client's ClientId.
    func principal(clientID: String) -> String {
        switch self {
        case .device(let identity): identity.deviceID.rawValue
        case .service(let identity): "$service/\(identity.policyName)"
        case .anonymous: clientID
        case .registration(let identity): "$dps/\(identity.registrationID)"
        }
    }

    /// How authentication ended, for its record.
    var outcome: AuthenticationOutcome {
        switch self {
        case .device(let identity): .accepted(.device(identity))
        case .service(let identity): .accepted(.service(identity))
        case .anonymous(let tenantID, _): .anonymous(tenantID)
        // Not recorded as an authentication: the gateway records each registration with its outcome.
        case .registration(let identity): .anonymous(identity.tenantID)
        }
    }

    var deviceIdentity: DeviceIdentity? {
        if case .device(let identity) = self { return identity }
        return nil
    }

    var tenantID: TenantID {
        switch self {
        case .device(let identity): identity.tenantID
        case .service(let identity): identity.tenantID
        case .anonymous(let tenantID, _): tenantID
        case .registration(let identity): identity.tenantID
        }
    }

    var isService: Bool {
        if case .service = self { return true }
        return false
    }

    var registration: RegistrationIdentity? {
        if case .registration(let identity) = self { return identity }
        return nil
    }

    /// What a provisioning client may do: subscribe to its responses, and publish its requests.
    static func decideRegistration(_ resource: AuthorizationRequest.Resource) -> Decision {
        switch resource.action {
        case .subscribe where resource.text == ProvisioningRequest.responseFilter: .allow()
        case .publish where ProvisioningRequest(topic: resource.text) != nil: .allow()
        default: .deny(["a provisioning client may only register and read its answers"])
        }
    }
}

/// What anonymous clients of a listener may do (`mqtt.plain.anonymous`); of the `$` topics they may only
/// read `$SYS/…`.
public enum AnonymousAccess: String, Sendable, CaseIterable {
    /// Publish and subscribe anywhere in the tenant's topic space outside `$…`.
    case publishSubscribe = "publish-subscribe"
    /// Subscribe only.
    case subscribe

    func decide(_ resource: AuthorizationRequest.Resource) -> Decision {
        let (action, topic) = (resource.action, resource.text)
        // Broker statistics are for reading (development listeners only ever admit anonymous clients).
        // Bytes, as topics are matched: a combining mark after the `$` does not hide it.
        let bytes = topic.utf8
        if action == .subscribe, bytes.starts(with: "$SYS/".utf8) { return .allow() }
        if bytes.first == UInt8(ascii: "$") && !bytes.starts(with: "$share/".utf8) {
            return .deny(["anonymous clients may not use '$' topics"])
        }
        switch self {
        case .publishSubscribe: return .allow()
        case .subscribe:
            // A resource is a topic to publish to or a filter to subscribe to.
            return action == .subscribe ? .allow() : .deny(["anonymous clients of this listener may only subscribe"])
        }
    }
}
