public import WardenCore
import WardenMQTT

/// Names a session: ClientIds are unique per tenant, never across tenants.
public struct SessionKey: Sendable, Hashable, CustomStringConvertible {
    public let tenantID: TenantID
    public let clientID: String

    public init(tenantID: TenantID, clientID: String) {
        self.tenantID = tenantID
        self.clientID = clientID
    }

    /// ClientIds are the same when their bytes are, as MQTT and the store compare them: two clients whose ids
    /// are only canonically equivalent (`K` and the Kelvin sign) must not take each other's session.
    public static func == (lhs: SessionKey, rhs: SessionKey) -> Bool {
        lhs.tenantID == rhs.tenantID && TopicKey(lhs.clientID) == TopicKey(rhs.clientID)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(tenantID)
        hasher.combine(TopicKey(clientID))
    }

    public var description: String { "\(tenantID)/\(clientID)" }
}
