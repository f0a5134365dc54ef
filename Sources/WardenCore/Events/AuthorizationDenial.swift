public import Foundation

/// A device-facing action the policy refused (an MQTT PUBLISH or SUBSCRIBE), published on the event bus for
/// the audit log. Allowed actions are counted, not recorded one by one.
public struct AuthorizationDenial: Sendable, Hashable {
    public let tenantID: TenantID
    /// The device id, `$service/{policy}`, or an anonymous client's ClientId.
    public let principal: String
    public let peerAddress: IPAddress
    /// `publish` or `subscribe`.
    public let action: String
    /// The topic or filter asked for.
    public let topic: String
    /// What the policy found missing.
    public let unmetConditions: [String]
    /// The id the client was told (5.0 reason string) and the log line repeats.
    public let referenceID: String
    public let at: Date

    public init(
        tenantID: TenantID, principal: String, peerAddress: IPAddress, action: String, topic: String,
        unmetConditions: [String], referenceID: String, at: Date
    ) {
        self.tenantID = tenantID
        self.principal = principal
        self.peerAddress = peerAddress
        self.action = action
        self.topic = topic
        self.unmetConditions = unmetConditions
        self.referenceID = referenceID
        self.at = at
    }
}
