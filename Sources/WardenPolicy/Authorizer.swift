public import Foundation
public import WardenCore
public import WardenMQTT

/// What a device-facing action asks for.
public struct AuthorizationRequest: Sendable {
    /// Who asks: always the authenticated identity, never a string the client chose.
    public enum Subject: Sendable, Hashable {
        case device(DeviceID)
        /// A backend application authenticated with a tenant shared access policy, with its permissions.
        case service(PolicyName, permissions: Set<SharedAccessPolicy.Permission>)
    }

    /// What the action is on, as the decoder validated it.
    public enum Resource: Sendable, Hashable {
        /// A PUBLISH's (or a Will's) topic name.
        case topic(String)
        /// A SUBSCRIBE's topic filter.
        case filter(TopicFilter)

        /// The text as the client sent it, for records.
        public var text: String {
            switch self {
            case .topic(let topic): topic
            case .filter(let filter): filter.rawValue
            }
        }

        /// Publish for a topic name, subscribe for a filter.
        public var action: PolicyAction {
            switch self {
            case .topic: .publish
            case .filter: .subscribe
            }
        }
    }

    public let tenantID: TenantID
    public let subject: Subject
    public let action: PolicyAction
    /// What the action is on; nil for an action without a topic (`connect`).
    public let resource: Resource?
    /// What the request's connection shows, for conditions.
    public var context = PolicyContext()

    public init(tenantID: TenantID, subject: Subject, action: PolicyAction, resource: Resource?) {
        self.tenantID = tenantID
        self.subject = subject
        self.action = action
        self.resource = resource
    }

    /// The record of `decision` refusing this request to `principal` (the device id, `$service/{policy}`, or an
    /// anonymous client's ClientId); `isEnforced` false when only an audit-only version refused it.
    public func denial(_ decision: Decision, principal: String, isEnforced: Bool = true, at: Date)
        -> AuthorizationDenial
    {
        AuthorizationDenial(
            tenantID: tenantID, principal: principal, peerAddress: context.peerAddress ?? .unspecified,
            protocolName: context.protocolName, action: decision.action ?? action.rawValue, topic: resource?.text ?? "",
            unmetConditions: decision.unmetConditions, statementID: decision.statementID,
            policyVersion: decision.policyVersion, isEnforced: isEnforced, referenceID: decision.referenceID, at: at,
            deviceID: { if case .device(let id) = subject { id } else { nil } }())
    }

    /// The name records use for the subject: the device id or `$service/{policy}`.
    public var principal: String {
        switch subject {
        case .device(let id): id.rawValue
        case .service(let name, _): "$service/\(name)"
        }
    }

    /// The same request seen in `context`.
    public func seen(in context: PolicyContext) -> Self {
        var request = self
        request.context = context
        return request
    }

    /// A device's request.
    public static func device(_ deviceID: DeviceID, in tenantID: TenantID, _ resource: Resource) -> Self {
        Self(tenantID: tenantID, subject: .device(deviceID), action: resource.action, resource: resource)
    }

    /// A connection's request to connect, once its credentials are proved.
    public static func connect(_ subject: Subject, in tenantID: TenantID) -> Self {
        Self(tenantID: tenantID, subject: subject, action: .connect, resource: nil)
    }

    /// A service's request, with what its shared access policy grants.
    public static func service(
        _ policyName: PolicyName, permissions: Set<SharedAccessPolicy.Permission>, in tenantID: TenantID,
        _ resource: Resource
    ) -> Self {
        Self(
            tenantID: tenantID, subject: .service(policyName, permissions: permissions), action: resource.action,
            resource: resource)
    }
}

/// Decides device-facing actions. The broker asks only this seam; `PolicyAuthorizer` answers with the policy
/// engine.
public protocol Authorizer: Sendable {
    /// The decision for `request`; synchronous, because it runs on the packet path.
    func decide(_ request: AuthorizationRequest) -> Decision
    /// Moves on whenever anything a decision reads may have changed.
    var generation: UInt64 { get }
    /// Whether `tenantID`'s decisions stand while `generation` does: the same requestor asking the same action
    /// on the same resource over the same connection gets the same answer, whatever the moment and the
    /// PUBLISH's size and rate. A caller may then keep an allow, read `generation` before deciding and asking.
    func decisionsStand(in tenantID: TenantID) -> Bool
}

extension Authorizer {
    public var generation: UInt64 { 0 }
    public func decisionsStand(in tenantID: TenantID) -> Bool { false }
}
