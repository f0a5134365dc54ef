public import WardenCore

/// Names a session: ClientIds are unique per tenant, never across tenants.
public struct SessionKey: Sendable, Hashable, CustomStringConvertible {
    public let tenantID: TenantID
    public let clientID: String

    public init(tenantID: TenantID, clientID: String) {
        self.tenantID = tenantID
        self.clientID = clientID
    }

    public var description: String { "\(tenantID)/\(clientID)" }
}
