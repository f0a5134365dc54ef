public import WardenCore
import WardenSecurity

/// What a connection or a request presents to prove who it is, in no protocol's terms: MQTT (a username and
/// password, or a client certificate), WebSocket (the same, inside HTTP) and the HTTPS device API (an
/// `Authorization` header, or a client certificate) each fill one in, and later AMQP CBS and DPS tokens.
public struct DeviceCredentials: Sendable {
    /// Whom the credentials claim to be.
    public enum Claim: Sendable, Hashable {
        case device(DeviceID)
        /// A backend service, by its shared access policy.
        case service(PolicyName)
        /// A name in no form the hub knows (an MQTT username that does not parse, an id that is not a device
        /// id); authenticating it fails with `reason`, and the record names it.
        case unrecognized(String, reason: WardenError)

        /// The name records use: the device id, `$service/{policy}`, or the unrecognized name.
        public var principal: String {
            switch self {
            case .device(let deviceID): deviceID.rawValue
            case .service(let policyName): "$service/\(policyName)"
            case .unrecognized(let name, _): name
            }
        }
    }

    /// The TLS client certificate, as the handshake proved it.
    public struct Certificate: Sendable, Hashable {
        /// Its thumbprints (SHA-1 and SHA-256).
        public let thumbprints: [Thumbprint]
        /// Its chain's validation against tenant CAs; nil when it chains to none.
        public let chain: ChainValidation?

        public init(thumbprints: [Thumbprint], chain: ChainValidation?) {
            self.thumbprints = thumbprints
            self.chain = chain
        }

        /// The certificate `leaf` (DER) with its thumbprints.
        public init(leaf: [UInt8], chain: ChainValidation?) {
            self.init(thumbprints: Thumbprint.of(certificate: leaf), chain: chain)
        }
    }

    /// The host name that names the tenant (an MQTT username's, an HTTPS request's `Host`); nil when the SAS
    /// token's audience names it, as on HTTPS.
    public var hostName: String?
    public var claim: Claim
    /// A SAS token: an MQTT password or 5.0 Authentication Data, an HTTPS `Authorization` header. When there is
    /// one, it is the credential, and a certificate is not looked at.
    public var sasToken: [UInt8]?
    public var certificate: Certificate?
    public var peerAddress: IPAddress
    /// Now, in Unix seconds.
    public var now: UInt64

    public init(
        hostName: String?, claim: Claim, sasToken: [UInt8]?, certificate: Certificate?, peerAddress: IPAddress,
        now: UInt64
    ) {
        self.hostName = hostName.map { $0.lowercased() }
        self.claim = claim
        self.sasToken = sasToken
        self.certificate = certificate
        self.peerAddress = peerAddress
        self.now = now
    }

    /// What the credentials try, for the record of a refusal (an accepted one records what proved it).
    var attemptedMethod: AuthenticationRecord.Method {
        if case .service = claim { return .service }
        if sasToken != nil { return .sas }
        guard let certificate else { return .none }
        if certificate.chain != nil { return .x509CA }
        return certificate.thumbprints.isEmpty ? .none : .x509Thumbprint
    }
}

/// What a presented certificate chain proved during the TLS handshake: its leaf's CN and serial, and the
/// tenants whose verified CA it chains to.
public struct ChainValidation: Sendable, Hashable {
    public let commonName: String
    /// Each certificate's serial under the one that signed it, leaf first (the root is not listed): what
    /// revocation names.
    public let path: [CertificateSerial]
    public let tenants: Set<TenantID>
    /// Why the chain proves nothing in a tenant whose CA asked its OCSP responder: revoked, or (hard-fail) no
    /// status to be had.
    public let refusals: [TenantID: WardenError]

    public init(
        commonName: String, path: [CertificateSerial], tenants: Set<TenantID>, refusals: [TenantID: WardenError] = [:]
    ) {
        self.commonName = commonName
        self.path = path
        self.tenants = tenants
        self.refusals = refusals
    }
}
