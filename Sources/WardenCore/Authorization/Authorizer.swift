/// What a device-facing action asks for.
public struct AuthorizationRequest: Sendable, Hashable {
    /// The kinds of device-facing action.
    public enum Action: String, Sendable, Hashable {
        case publish
        case subscribe
    }

    /// Who asks: always the authenticated identity, never a string the client chose.
    public enum Subject: Sendable, Hashable {
        case device(DeviceID)
        /// A backend application authenticated with a tenant shared access policy, with its permissions.
        case service(PolicyName, permissions: Set<SharedAccessPolicy.Permission>)
    }

    public let tenantID: TenantID
    public let subject: Subject
    public let action: Action
    /// The topic name (publish) or topic filter as sent (subscribe).
    public let topic: String

    public init(tenantID: TenantID, subject: Subject, action: Action, topic: String) {
        self.tenantID = tenantID
        self.subject = subject
        self.action = action
        self.topic = topic
    }

    /// A device's request.
    public init(tenantID: TenantID, deviceID: DeviceID, action: Action, topic: String) {
        self.init(tenantID: tenantID, subject: .device(deviceID), action: action, topic: topic)
    }
}

/// Decides device-facing actions. The broker asks only this seam; the policy engine replaces the default
/// (`NamespaceAuthorizer`) later without the broker changing.
public protocol Authorizer: Sendable {
    /// The decision for `request`; synchronous, because it runs on the packet path.
    func decide(_ request: AuthorizationRequest) -> Decision
}
