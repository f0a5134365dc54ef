public import Foundation
public import WardenCore
public import WardenMQTT
public import WardenRegistry
import WardenSecurity

/// Decides who a CONNECT is, before the broker accepts it (issue 3, "Authentication at CONNECT").
///
/// Device SAS: ClientId = device id, username in Azure's form naming the tenant's host name, password = SAS
/// token. Device X.509 thumbprint: no password, the TLS client certificate's SHA-256 or SHA-1 thumbprint
/// equals the device's primary or secondary. Order: parse, tenant by host name, tenant IP filter, credential,
/// ClientId, device status and access list. An unknown host or device costs the same HMAC as a wrong key and
/// gets the same answer.
public struct ConnectAuthenticator: Sendable {
    /// What a presented certificate chain proved during the TLS handshake: its leaf's CN and the tenants
    /// whose verified CA it chains to.
    public struct ChainValidation: Sendable, Hashable {
        public let commonName: String
        public let tenants: Set<TenantID>

        public init(commonName: String, tenants: Set<TenantID>) {
            self.commonName = commonName
            self.tenants = tenants
        }
    }

    /// What the connection itself tells us.
    public struct ConnectionFacts: Sendable {
        /// The peer's address.
        public let peerAddress: IPAddress
        /// Hex thumbprints (SHA-1 and SHA-256) of the TLS client certificate, if one was presented.
        public let clientCertificateThumbprints: [Thumbprint]
        /// The presented chain's validation against tenant CAs, if it validated against any.
        public let chainValidation: ChainValidation?
        /// Now, in Unix seconds.
        public let now: UInt64

        public init(
            peerAddress: IPAddress, clientCertificateThumbprints: [Thumbprint] = [],
            chainValidation: ChainValidation? = nil, now: UInt64
        ) {
            self.peerAddress = peerAddress
            self.clientCertificateThumbprints = clientCertificateThumbprints
            self.chainValidation = chainValidation
            self.now = now
        }
    }

    /// An authenticated device.
    public struct DeviceIdentity: Sendable, Hashable {
        public let tenantID: TenantID
        public let deviceID: DeviceID
        public let method: Device.AuthenticationType
        /// When the credential stops being valid (the SAS token's `se`); the broker closes the connection then.
        public let expiry: UInt64?
        /// The rules the connection follows, from its username.
        public internal(set) var dialect = DeviceDialect.azure

        /// The sender the hub sees on this connection's messages.
        public var sender: DeviceSender {
            DeviceSender(tenantID: tenantID, deviceID: deviceID, authMethod: method, dialect: dialect)
        }
    }

    /// An authenticated backend service: a shared access policy with `serviceConnect`.
    public struct ServiceIdentity: Sendable, Hashable {
        public let tenantID: TenantID
        public let policyName: PolicyName
        public let permissions: Set<SharedAccessPolicy.Permission>
        /// The SAS token's expiry; the broker closes the connection then.
        public let expiry: UInt64?
    }

    /// A refusal: the operator-facing reason (never sent to the client) and which answer the client gets.
    public struct Refusal: Error, Sendable, Hashable {
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

    private let directory: DeviceDirectory
    /// Verified against when the host or device is unknown, so that the answer takes as long as a wrong key.
    private let decoy = SASKey(SecretBytes.random(count: 32))

    public init(directory: DeviceDirectory) {
        self.directory = directory
    }

    /// Authenticates a request of the HTTPS device API for `deviceID`: `Authorization` holds a SAS token for
    /// `{host}/devices/{deviceId}`, whose host names the tenant. The same checks as CONNECT (IP filter, status,
    /// allow and block lists); the dialect is Azure's.
    public func authenticate(authorization: String?, deviceID: DeviceID, _ facts: ConnectionFacts) throws(Refusal)
        -> DeviceIdentity
    {
        guard let authorization else {
            throw Refusal(
                reason: WardenError(
                    .authMissingCredential, "The request has no Authorization header with a SAS token."),
                isCredentialFailure: true)
        }
        let token: SASToken
        do throws(WardenError) {
            token = try SASToken.parse(authorization)
        } catch {
            throw Refusal(reason: error, isCredentialFailure: true)
        }
        let host = token.resource.split(separator: "/", maxSplits: 1).first.map { String($0).lowercased() } ?? ""
        let password = Array(authorization.utf8)
        let tenantID = try tenant(forHost: host, password, facts)
        let (identity, device) = try credential(password, tenantID: tenantID, deviceID: deviceID, facts: facts)
        try admit(identity, device)
        return identity
    }

    /// Authenticates a request of the HTTPS device API for `deviceID` by the TLS client certificate chain it
    /// presented: the leaf's thumbprint (`x509-thumbprint`) or the chain to a verified tenant CA with
    /// CN = the device id (`x509-ca`). The request's host names the tenant, as a username's does on MQTT; the
    /// same checks as CONNECT follow.
    public func authenticate(
        certificateChain chain: [[UInt8]], hostName: String, deviceID: DeviceID, peerAddress: IPAddress, now: Date
    ) async throws(Refusal) -> DeviceIdentity {
        guard let leaf = chain.first else {
            throw Refusal(
                reason: WardenError(
                    .authMissingCredential, "Neither a SAS token nor a client certificate was presented."),
                isCredentialFailure: true)
        }
        let facts = ConnectionFacts(
            peerAddress: peerAddress, clientCertificateThumbprints: Thumbprint.of(certificate: leaf),
            chainValidation: await validateChain(chain, now: now), now: now.unixSeconds)
        let tenantID = try tenant(forHost: hostName.lowercased(), nil, facts)
        let (identity, device) = try credential(nil, tenantID: tenantID, deviceID: deviceID, facts: facts)
        try admit(identity, device)
        return identity
    }

    /// Authenticates `connect`, or throws a `Refusal`.
    public func authenticate(_ connect: ConnectPacket, _ facts: ConnectionFacts) throws(Refusal) -> DeviceIdentity {
        guard let username = connect.username.flatMap(AzureUsername.init) else {
            throw Refusal(
                reason: WardenError(.sasMalformed, "The username is not '{host}/{deviceId}/?api-version=…'."),
                isCredentialFailure: true)
        }
        let tenantID = try tenant(forHost: username.hostName, connect.password, facts)
        var (identity, device) = try credential(
            connect.password, tenantID: tenantID, deviceID: username.deviceID, facts: facts)
        identity.dialect = username.dialect
        guard connect.clientID == username.deviceID.rawValue else {
            throw Refusal(
                reason: WardenError(.authForbidden, "ClientId '\(connect.clientID)' is not the authenticated device."),
                isCredentialFailure: false)
        }
        try admit(identity, device)
        return identity
    }

    /// The tenant `hostName` names, if the connection's address passes its IP filter. An unknown host costs
    /// the HMAC a known device would.
    private func tenant(forHost hostName: String, _ password: [UInt8]?, _ facts: ConnectionFacts) throws(Refusal)
        -> TenantID
    {
        guard let tenantID = directory.tenant(forHost: hostName) else {
            spendDecoyHMAC(password)
            throw Refusal(
                reason: WardenError(.tenantNotFound, "No tenant has host name '\(hostName)'."),
                isCredentialFailure: true)
        }
        if let verdict = directory.ipVerdict(tenantID, facts.peerAddress), verdict.action == .reject {
            throw Refusal(
                reason: WardenError(
                    .authForbidden, "IP filter rule '\(verdict.ruleName ?? "default")' rejects \(facts.peerAddress)."),
                isCredentialFailure: false)
        }
        return tenantID
    }

    /// Authenticates a backend service (username `{host}/$service/{policy}`, password a SAS token signed with
    /// that policy for the tenant's host name); nil when the username is not a service's.
    public func authenticateService(_ connect: ConnectPacket, _ facts: ConnectionFacts) throws(Refusal)
        -> ServiceIdentity?
    {
        guard let username = connect.username.flatMap(ServiceUsername.init) else { return nil }
        let tenantID = try tenant(forHost: username.hostName, connect.password, facts)
        do throws(WardenError) {
            guard let password = connect.password else {
                throw WardenError(.authInvalidCredential, "A service authenticates with a SAS token as password.")
            }
            let token = try SASToken.parse(String(decoding: password, as: UTF8.self))
            let policy = try directory.authenticateService(
                token, tenantID: tenantID, policy: username.policyName, now: facts.now)
            return ServiceIdentity(
                tenantID: tenantID, policyName: policy.name, permissions: policy.permissions, expiry: token.expiry)
        } catch {
            if error.code == .policyNotFound { spendDecoyHMAC(connect.password) }
            throw Refusal(reason: error, isCredentialFailure: error.code != .authForbidden)
        }
    }

    /// Who a CONNECT claims to be, for the record of its outcome: the tenant its host names, and the device id,
    /// `$service/{policy}` or the ClientId.
    public func claimedPrincipal(_ connect: ConnectPacket) -> (tenantID: TenantID?, principal: String) {
        if let service = connect.username.flatMap(ServiceUsername.init) {
            return (directory.tenant(forHost: service.hostName), "$service/\(service.policyName)")
        }
        if let device = connect.username.flatMap(AzureUsername.init) {
            return (directory.tenant(forHost: device.hostName), device.deviceID.rawValue)
        }
        return (nil, connect.clientID)
    }

    /// The identity the credential proves, and the device as the directory held it when it was checked.
    private func credential(_ password: [UInt8]?, tenantID: TenantID, deviceID: DeviceID, facts: ConnectionFacts)
        throws(Refusal) -> (DeviceIdentity, Device)
    {
        guard let password else {
            return try certificate(tenantID: tenantID, deviceID: deviceID, facts: facts)
        }
        let token: SASToken
        do {
            token = try SASToken.parse(String(decoding: password, as: UTF8.self))
        } catch {
            throw Refusal(reason: error, isCredentialFailure: true)
        }
        let entry: DeviceDirectory.Entry
        do {
            entry = try directory.authenticate(token, tenantID: tenantID, deviceID: deviceID, now: facts.now)
        } catch {
            if error.code == .deviceNotFound { spendDecoyHMAC(password) }
            throw Refusal(reason: error, isCredentialFailure: true)
        }
        return (
            DeviceIdentity(tenantID: tenantID, deviceID: deviceID, method: .sas, expiry: token.expiry), entry.device
        )
    }

    /// X.509: the certificate's thumbprint is the device's (`x509-thumbprint`), or its chain leads to a
    /// verified CA of the tenant with CN = device id (`x509-ca`).
    private func certificate(tenantID: TenantID, deviceID: DeviceID, facts: ConnectionFacts) throws(Refusal)
        -> (DeviceIdentity, Device)
    {
        if let entry = directory.entry(tenantID, deviceID) {
            switch entry.device.authentication {
            case .x509Thumbprint(let primary, let secondary)
            where facts.clientCertificateThumbprints.contains(where: { $0 == primary || $0 == secondary }):
                return (
                    DeviceIdentity(tenantID: tenantID, deviceID: deviceID, method: .x509Thumbprint, expiry: nil),
                    entry.device
                )
            case .x509CA
            where facts.chainValidation?.commonName == deviceID.rawValue
                && facts.chainValidation?.tenants.contains(tenantID) == true:
                return (
                    DeviceIdentity(tenantID: tenantID, deviceID: deviceID, method: .x509CA, expiry: nil), entry.device
                )
            default:
                break
            }
        }
        throw Refusal(
            reason: WardenError(
                .authInvalidCredential, "No password and no client certificate proving device '\(deviceID)'."),
            isCredentialFailure: true)
    }

    /// Validates a presented chain (leaf first, DER) against every tenant's verified CAs.
    public func validateChain(_ chain: [[UInt8]], now: Date) async -> ChainValidation? {
        var tenants: Set<TenantID> = []
        var commonName: String?
        for (tenantID, roots) in directory.verifiedAuthorities() {
            if let valid = await CertificateAuthorityCheck.validate(chain: chain, roots: roots, now: now) {
                tenants.insert(tenantID)
                commonName = valid.commonName
            }
        }
        return commonName.map { ChainValidation(commonName: $0, tenants: tenants) }
    }

    /// Why a live connection of `identity` from `peerAddress` would no longer be admitted, if it would not:
    /// the device is gone, disabled, blocked, outside the allow list or the IP filter, or its certificate
    /// thumbprints changed.
    public func revocation(of identity: DeviceIdentity, peerAddress: IPAddress) -> WardenError? {
        guard let entry = directory.entry(identity.tenantID, identity.deviceID) else {
            return WardenError(.deviceNotFound, "Device '\(identity.deviceID)' was deleted.")
        }
        if let verdict = directory.ipVerdict(identity.tenantID, peerAddress), verdict.action == .reject {
            return WardenError(
                .authForbidden, "IP filter rule '\(verdict.ruleName ?? "default")' rejects \(peerAddress).")
        }
        do {
            try admit(identity, entry.device)
        } catch {
            return error.reason
        }
        return nil
    }

    private func admit(_ identity: DeviceIdentity, _ device: Device) throws(Refusal) {
        guard device.status == .enabled else {
            throw Refusal(
                reason: WardenError(.authForbidden, "Device '\(identity.deviceID)' is disabled."),
                isCredentialFailure: false)
        }
        switch directory.accessVerdict(identity.tenantID, identity.deviceID) {
        case .allowed, nil: return
        case .blocked:
            throw Refusal(
                reason: WardenError(.authForbidden, "Device '\(identity.deviceID)' is on the block list."),
                isCredentialFailure: false)
        case .notAllowed:
            throw Refusal(
                reason: WardenError(.authForbidden, "Device '\(identity.deviceID)' is not on the allow list."),
                isCredentialFailure: false)
        }
    }

    /// Does the HMAC a known device would cost, and throws the result away.
    private func spendDecoyHMAC(_ password: [UInt8]?) {
        guard let password, let token = try? SASToken.parse(String(decoding: password, as: UTF8.self)) else { return }
        _ = try? SASTokenVerifier.verify(token, resource: token.resource, primary: decoy, secondary: decoy, now: 0)
    }
}
