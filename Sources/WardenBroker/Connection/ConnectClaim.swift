import WardenAuthentication
import WardenAzure
import WardenCore

/// What a CONNECT (or a 5.0 AUTH) claims, read once: its username in one of the hub's forms, and the
/// protocol-neutral credentials it presents to `DeviceAuthenticator`. MQTT adds two rules of its own: a
/// device's ClientId is its device id, and its username chooses the dialect.
struct ConnectClaim: Sendable {
    let username: HubUsername?
    let credentials: DeviceCredentials

    /// `token` is the password, or a 5.0 client's Authentication Data.
    init(
        username text: String?, clientID: String, token: [UInt8]?, certificate: DeviceCredentials.Certificate?,
        peerAddress: IPAddress, now: UInt64
    ) {
        username = text.flatMap(HubUsername.init)
        let claim: DeviceCredentials.Claim =
            switch username {
            case .device(let device): .device(device.deviceID)
            case .service(let service): .service(service.policyName)
            case nil:
                .unrecognized(
                    clientID,
                    reason: WardenError(.sasMalformed, "The username is not '{host}/{deviceId}/?api-version=…'."))
            }
        credentials = DeviceCredentials(
            hostName: username?.hostName, claim: claim, sasToken: token, certificate: certificate,
            peerAddress: peerAddress, now: now)
    }

    /// Who the claim proves with `authenticator`: a service, or a device whose ClientId is `clientID`, in its
    /// username's dialect.
    func authenticate(with authenticator: DeviceAuthenticator, clientID: String) throws(AuthenticationRefusal)
        -> AuthenticatedIdentity
    {
        switch try authenticator.authenticate(credentials) {
        case .service(let service):
            return .service(service)
        case .device(var device):
            guard clientID == device.deviceID.rawValue else {
                throw AuthenticationRefusal(
                    reason: WardenError(.authForbidden, "ClientId '\(clientID)' is not the authenticated device."),
                    isCredentialFailure: false)
            }
            if case .device(let username) = username { device.dialect = username.dialect }
            return .device(device)
        }
    }
}
