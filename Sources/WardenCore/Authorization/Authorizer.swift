/// What a device-facing action asks for.
public struct AuthorizationRequest: Sendable, Hashable {
    /// The kinds of device-facing action.
    public enum Action: String, Sendable, Hashable {
        case publish
        case subscribe
    }

    /// The authenticated device (never a string the client chose).
    public let tenantID: TenantID
    public let deviceID: DeviceID
    public let action: Action
    /// The topic name (publish) or topic filter as sent (subscribe).
    public let topic: String

    public init(tenantID: TenantID, deviceID: DeviceID, action: Action, topic: String) {
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.action = action
        self.topic = topic
    }
}

/// Decides device-facing actions. The broker asks only this seam; the policy engine replaces the default
/// (`NamespaceAuthorizer`) later without the broker changing.
public protocol Authorizer: Sendable {
    /// The decision for `request`; synchronous, because it runs on the packet path.
    func decide(_ request: AuthorizationRequest) -> Decision
}
