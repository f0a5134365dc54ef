public import WardenAuthentication
public import WardenAzure
public import WardenCore

/// Where zero-touch provisioning (WardenProvisioning, Azure's DPS protocol) takes over a connection whose
/// username is a DPS one: it proves the registration at CONNECT from memory, then answers the client's register
/// and status requests. Such a connection has no topic space: it may subscribe to its responses only, and
/// nothing it publishes is routed.
public protocol ProvisioningGateway: Sendable {
    /// Proves a DPS CONNECT: `token` is a SAS token over `{idScope}/registrations/{registrationId}`, signed with
    /// the individual enrollment's key or the key a group derives for the registration id; without one, the
    /// client certificate proves an X.509 enrollment.
    func authenticate(
        _ username: ProvisioningUsername, token: [UInt8]?, certificate: DeviceCredentials.Certificate?, now: UInt64
    ) throws(WardenError) -> RegistrationIdentity
    /// Answers one request: the response's status, JSON body and `retry-after`.
    func answer(_ request: ProvisioningRequest, body: [UInt8], from identity: RegistrationIdentity, peer: IPAddress)
        async -> ProvisioningAnswer
    /// The answer to a request that comes while the connection's previous one is still being answered (429).
    func oneAtATime() -> ProvisioningAnswer
}

/// A registration proved at CONNECT.
public struct RegistrationIdentity: Sendable, Hashable {
    public let tenantID: TenantID
    public let idScope: String
    public let registrationID: DeviceID
    public let enrollment: Enrollment.Kind

    public init(tenantID: TenantID, idScope: String, registrationID: DeviceID, enrollment: Enrollment.Kind) {
        self.tenantID = tenantID
        self.idScope = idScope
        self.registrationID = registrationID
        self.enrollment = enrollment
    }
}

/// A response to a provisioning request.
public struct ProvisioningAnswer: Sendable {
    public let status: Int
    public let body: [UInt8]
    public let retryAfter: Int?

    public init(status: Int, body: [UInt8], retryAfter: Int? = nil) {
        self.status = status
        self.body = body
        self.retryAfter = retryAfter
    }
}
