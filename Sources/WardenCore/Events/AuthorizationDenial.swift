public import Foundation

/// A device-facing action the policy refused (an MQTT CONNECT, PUBLISH or SUBSCRIBE), or that an audit-only
/// policy version would have refused, published on the event bus for the audit log. Allowed actions are
/// counted, not recorded one by one.
public struct AuthorizationDenial: Sendable, Hashable {
    public let tenantID: TenantID
    /// The device id, `$service/{policy}`, or an anonymous client's ClientId.
    public let principal: String
    /// The device refused, when the principal is an authenticated device (not a service, not an anonymous
    /// client whose ClientId may be any device's id).
    public let deviceID: DeviceID?
    public let peerAddress: IPAddress
    /// `mqtt`, `mqtt-ws`, `https`, `amqp` or `amqp-ws`.
    public let protocolName: String
    /// `connect`, `publish`, `subscribe`, …
    public let action: String
    /// The topic or filter asked for.
    public let topic: String
    /// What the policy found missing.
    public let unmetConditions: [String]
    /// The statement that denied (nil: none allowed).
    public let statementID: String?
    /// The tenant's policy version that decided (nil when no policy was asked).
    public let policyVersion: Int?
    /// False when an audit-only version would have refused what the enforced one allowed: nothing was refused.
    public let isEnforced: Bool
    /// The id the client was told (5.0 reason string) and the log line repeats.
    public let referenceID: String
    public let at: Date

    public init(
        tenantID: TenantID, principal: String, peerAddress: IPAddress, protocolName: String, action: String,
        topic: String, unmetConditions: [String], statementID: String?, policyVersion: Int?, isEnforced: Bool = true,
        referenceID: String, at: Date, deviceID: DeviceID? = nil
    ) {
        self.tenantID = tenantID
        self.principal = principal
        self.deviceID = deviceID
        self.peerAddress = peerAddress
        self.protocolName = protocolName
        self.action = action
        self.topic = topic
        self.unmetConditions = unmetConditions
        self.statementID = statementID
        self.policyVersion = policyVersion
        self.isEnforced = isEnforced
        self.referenceID = referenceID
        self.at = at
    }
}
