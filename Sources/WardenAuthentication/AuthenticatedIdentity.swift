public import WardenAzure
public import WardenCore

/// An authenticated device.
public struct DeviceIdentity: Sendable, Hashable {
    public let tenantID: TenantID
    public let deviceID: DeviceID
    public let method: Device.AuthenticationType
    /// When the credential stops being valid (the SAS token's `se`); a connection is closed then.
    public let expiry: UInt64?
    /// The rules the connection follows; an MQTT username chooses them, every other protocol is Azure's.
    public var dialect = DeviceDialect.azure
    /// The client certificate's serial when a certificate Warden can revoke proved the identity.
    public var certificate: CertificateSerial?
    /// Every serial on the certificate's path to its CA (leaf first), which CRLs may revoke.
    public var certificatePath: [CertificateSerial] = []

    public init(tenantID: TenantID, deviceID: DeviceID, method: Device.AuthenticationType, expiry: UInt64?) {
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.method = method
        self.expiry = expiry
    }
}

/// An authenticated backend service: a shared access policy with `serviceConnect`.
public struct ServiceIdentity: Sendable, Hashable {
    public let tenantID: TenantID
    public let policyName: PolicyName
    public let permissions: Set<SharedAccessPolicy.Permission>
    /// The SAS token's expiry; a connection is closed then.
    public let expiry: UInt64?
}

/// Who credentials proved.
public enum AuthenticatedIdentity: Sendable, Hashable {
    case device(DeviceIdentity)
    case service(ServiceIdentity)
}

/// A refusal: the operator-facing reason (never sent to the client) and which answer the client gets.
public struct AuthenticationRefusal: Error, Sendable, Hashable {
    /// Why, for the audit record and log.
    public let reason: WardenError
    /// Whether the client is told "bad credentials" or "not authorized".
    public let isCredentialFailure: Bool
    /// A 5.0 Authentication Method the hub does not know (answered 0x8C).
    public let isUnsupportedMethod: Bool

    public init(reason: WardenError, isCredentialFailure: Bool, isUnsupportedMethod: Bool = false) {
        self.reason = reason
        self.isCredentialFailure = isCredentialFailure
        self.isUnsupportedMethod = isUnsupportedMethod
    }
}

/// How an attempt ended, for its record.
public enum AuthenticationOutcome: Sendable {
    case accepted(AuthenticatedIdentity)
    /// Admitted without credentials by a development listener, into `tenant`.
    case anonymous(TenantID)
    case refused(AuthenticationRefusal)
}
