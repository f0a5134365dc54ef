public import Foundation

/// One authentication outcome on a device-facing protocol, published on the event bus for the audit log and
/// for detection (issue 3; issue 5 records them). Never holds a credential.
public struct AuthenticationRecord: Sendable, Hashable {
    /// How the client tried to authenticate.
    public enum Method: String, Sendable, Hashable {
        case sas
        case x509Thumbprint = "x509-thumbprint"
        case x509CA = "x509-ca"
        case service
        case anonymous
        /// Nothing usable was presented.
        case none
    }

    /// The tenant, once known (an unknown host name leaves it nil).
    public let tenantID: TenantID?
    /// Who it claimed to be: the device id, `$service/{policy}`, or the ClientId.
    public let principal: String
    public let peerAddress: IPAddress
    public let protocolName: String
    public let method: Method
    public let isAccepted: Bool
    /// Why not, when refused (the operator-facing code; the client heard only "bad credentials" or "not
    /// authorized").
    public let failure: WardenError.Code?
    /// Whether a refusal was of the credential itself (a wrong key, a refused certificate, an unknown device),
    /// not of an identity that proved itself but may not connect (disabled, blocked, banned).
    public let isCredentialFailure: Bool
    /// The device a refused attempt named, when it exists: its key or certificate was wrong (the Defender counts
    /// guesses per device; an id that names no device is not one).
    public let guessedDevice: DeviceID?
    /// SHA-256 thumbprint of the client certificate, if one was presented.
    public let certificateThumbprint: Thumbprint?
    /// Quote this to find the matching log line.
    public let referenceID: String
    public let at: Date

    public init(
        tenantID: TenantID?, principal: String, peerAddress: IPAddress, protocolName: String, method: Method,
        isAccepted: Bool, failure: WardenError.Code?, isCredentialFailure: Bool = false, guessedDevice: DeviceID? = nil,
        certificateThumbprint: Thumbprint?, referenceID: String, at: Date
    ) {
        self.tenantID = tenantID
        self.principal = principal
        self.peerAddress = peerAddress
        self.protocolName = protocolName
        self.method = method
        self.isAccepted = isAccepted
        self.failure = failure
        self.isCredentialFailure = isCredentialFailure
        self.guessedDevice = guessedDevice
        self.certificateThumbprint = certificateThumbprint
        self.referenceID = referenceID
        self.at = at
    }
}
