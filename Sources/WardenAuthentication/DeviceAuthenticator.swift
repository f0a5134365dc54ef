public import Foundation
public import WardenCore
public import WardenRegistry
import WardenSecurity

/// Decides who a device or service is, for every protocol (issue 3, "Authentication at CONNECT"; issue 19).
///
/// Device SAS: a token for `{host}/devices/{id}` signed with the device's key. Device X.509: no token, and the
/// TLS client certificate's SHA-256 or SHA-1 thumbprint is the device's primary or secondary
/// (`x509-thumbprint`), or its chain leads to a verified CA of the tenant with CN = device id (`x509-ca`).
/// Service: a token signed with a shared access policy of the tenant. Order: tenant by host name, tenant IP
/// filter, credential, device status and access list. An unknown host or device costs the same HMAC as a wrong
/// key and gets the same answer.
public struct DeviceAuthenticator: Sendable {
    private let directory: DeviceDirectory
    /// Asks external CAs' OCSP responders, for the CAs that want it; nil asks none.
    private let ocsp: OCSPStatusCache?
    /// Banned devices (the Defender's).
    private let gate: any ConnectionGate
    /// Verified against when the host or device is unknown, so that the answer takes as long as a wrong key.
    private let decoy = SASKey(SecretBytes.random(count: 32))

    public init(directory: DeviceDirectory, ocsp: OCSPStatusCache? = nil, gate: any ConnectionGate = OpenGate()) {
        self.directory = directory
        self.ocsp = ocsp
        self.gate = gate
    }

    /// Who `credentials` prove, or why not.
    public func authenticate(_ credentials: DeviceCredentials) throws(AuthenticationRefusal) -> AuthenticatedIdentity {
        // A connection accepted before its address was banned (or an HTTPS connection kept alive) is refused
        // here too.
        if let ban = gate.ban(of: credentials.peerAddress) {
            throw AuthenticationRefusal(
                reason: WardenError(.authBanned, "Address \(credentials.peerAddress) is banned (ban \(ban.id))."),
                isCredentialFailure: false)
        }
        let deviceID: DeviceID
        switch credentials.claim {
        case .unrecognized(_, let reason):
            throw AuthenticationRefusal(reason: reason, isCredentialFailure: true)
        case .service(let policyName):
            return .service(try service(policyName, credentials))
        case .device(let id):
            deviceID = id
        }
        let tenantID = try tenant(of: credentials)
        let (identity, device) = try credential(credentials, tenantID: tenantID, deviceID: deviceID)
        try admit(identity, device)
        if let ban = gate.ban(of: deviceID, in: tenantID) {
            throw AuthenticationRefusal(
                reason: WardenError(.authBanned, "Device '\(deviceID)' is banned (ban \(ban.id))."),
                isCredentialFailure: false)
        }
        return .device(identity)
    }

    /// The tenant the credentials name (by host name, else by the SAS token's audience), if the connection's
    /// address passes its IP filter. An unknown host costs the HMAC a known device would.
    private func tenant(of credentials: DeviceCredentials) throws(AuthenticationRefusal) -> TenantID {
        var hostName = credentials.hostName
        if hostName == nil { hostName = try audienceHost(credentials.sasToken) }
        guard let hostName else {
            throw AuthenticationRefusal(
                reason: WardenError(
                    .authMissingCredential, "Neither a SAS token nor a client certificate was presented."),
                isCredentialFailure: true)
        }
        guard let tenantID = directory.tenant(forHost: hostName) else {
            spendDecoyHMAC(credentials.sasToken)
            throw AuthenticationRefusal(
                reason: WardenError(.tenantNotFound, "No tenant has host name '\(hostName)'."),
                isCredentialFailure: true)
        }
        if let verdict = directory.ipVerdict(tenantID, credentials.peerAddress), verdict.action == .reject {
            throw AuthenticationRefusal(
                reason: WardenError(
                    .authForbidden,
                    "IP filter rule '\(verdict.ruleName ?? "default")' rejects \(credentials.peerAddress)."),
                isCredentialFailure: false)
        }
        return tenantID
    }

    /// The host of a SAS token's audience (`{host}/devices/{id}`), lowercased; nil without a token.
    private func audienceHost(_ token: [UInt8]?) throws(AuthenticationRefusal) -> String? {
        guard let token else { return nil }
        let resource = try parse(token).resource
        return resource.split(separator: "/", maxSplits: 1).first.map { String($0).lowercased() } ?? ""
    }

    private func parse(_ token: [UInt8]) throws(AuthenticationRefusal) -> SASToken {
        do throws(WardenError) {
            return try SASToken.parse(String(decoding: token, as: UTF8.self))
        } catch {
            throw AuthenticationRefusal(reason: error, isCredentialFailure: true)
        }
    }

    /// A backend service: the token is signed with `policyName`, a policy of the tenant the host names.
    private func service(_ policyName: PolicyName, _ credentials: DeviceCredentials) throws(AuthenticationRefusal)
        -> ServiceIdentity
    {
        let tenantID = try tenant(of: credentials)
        do throws(WardenError) {
            guard let password = credentials.sasToken else {
                throw WardenError(.authInvalidCredential, "A service authenticates with a SAS token as password.")
            }
            let token = try SASToken.parse(String(decoding: password, as: UTF8.self))
            let policy = try directory.authenticateService(
                token, tenantID: tenantID, policy: policyName, now: credentials.now)
            return ServiceIdentity(
                tenantID: tenantID, policyName: policy.name, permissions: policy.permissions, expiry: token.expiry)
        } catch {
            if error.code == .policyNotFound { spendDecoyHMAC(credentials.sasToken) }
            throw AuthenticationRefusal(reason: error, isCredentialFailure: error.code != .authForbidden)
        }
    }

    /// The identity the credential proves, and the device as the directory held it when it was checked.
    private func credential(_ credentials: DeviceCredentials, tenantID: TenantID, deviceID: DeviceID)
        throws(AuthenticationRefusal) -> (DeviceIdentity, Device)
    {
        guard let password = credentials.sasToken else {
            return try certificate(
                credentials.certificate, tenantID: tenantID, deviceID: deviceID,
                now: Date(timeIntervalSince1970: Double(credentials.now)))
        }
        let token = try parse(password)
        let entry: DeviceDirectory.Entry
        do {
            entry = try directory.authenticate(token, tenantID: tenantID, deviceID: deviceID, now: credentials.now)
        } catch {
            if error.code == .deviceNotFound { spendDecoyHMAC(password) }
            throw AuthenticationRefusal(reason: error, isCredentialFailure: true)
        }
        return (
            DeviceIdentity(tenantID: tenantID, deviceID: deviceID, method: .sas, expiry: token.expiry), entry.device
        )
    }

    /// X.509: the certificate's thumbprint is the device's (`x509-thumbprint`), or its chain leads to a
    /// verified CA of the tenant with CN = device id (`x509-ca`).
    private func certificate(
        _ certificate: DeviceCredentials.Certificate?, tenantID: TenantID, deviceID: DeviceID, now: Date
    )
        throws(AuthenticationRefusal) -> (DeviceIdentity, Device)
    {
        if let certificate, let entry = directory.entry(tenantID, deviceID) {
            // A certificate the tenant revoked, or whose revocation a hard-fail CA cannot tell, proves nothing,
            // whichever way the device is registered.
            let path = certificate.chain.flatMap { $0.tenants.contains(tenantID) ? $0.path : nil } ?? []
            if let refusal = directory.revocation(tenantID, path: path, now: now)
                ?? certificate.chain?.refusals[tenantID]
            {
                throw AuthenticationRefusal(reason: refusal, isCredentialFailure: true)
            }
            let serial = path.first
            var identity: DeviceIdentity?
            switch entry.device.authentication {
            case .x509Thumbprint(let primary, let secondary)
            where certificate.thumbprints.contains(where: { $0 == primary || $0 == secondary }):
                identity = DeviceIdentity(tenantID: tenantID, deviceID: deviceID, method: .x509Thumbprint, expiry: nil)
            case .x509CA where serial != nil && certificate.chain?.commonName == deviceID.rawValue:
                identity = DeviceIdentity(tenantID: tenantID, deviceID: deviceID, method: .x509CA, expiry: nil)
            default:
                break
            }
            if var identity {
                identity.certificate = serial
                identity.certificatePath = path
                return (identity, entry.device)
            }
        }
        throw AuthenticationRefusal(
            reason: WardenError(
                .authInvalidCredential, "No password and no client certificate proving device '\(deviceID)'."),
            isCredentialFailure: true)
    }

    /// Validates a presented chain (leaf first, DER) against every tenant's verified CAs.
    public func validateChain(_ chain: [[UInt8]], now: Date) async -> ChainValidation? {
        var tenants: Set<TenantID> = []
        var refusals: [TenantID: WardenError] = [:]
        var leaf: (commonName: String, path: [CertificateSerial])?
        for (tenantID, roots) in directory.verifiedAuthorities() {
            if let valid = await CertificateAuthorityCheck.validate(chain: chain, roots: roots, now: now) {
                tenants.insert(tenantID)
                leaf = (valid.commonName, valid.path)
                if let ocsp, let issuer = valid.path.last?.issuer,
                    let (name, hardFail) = directory.ocspCheck(tenantID, issuer: issuer)
                {
                    refusals[tenantID] = await ocsp.refusal(
                        of: chain, root: valid.root, authority: name, hardFail: hardFail, path: valid.path, now: now)
                }
            }
        }
        return leaf.map {
            ChainValidation(commonName: $0.commonName, path: $0.path, tenants: tenants, refusals: refusals)
        }
    }

    /// Validates the chain a connection presented, if it presented one, and records what it proved.
    public func validate(_ presented: PresentedChain, now: Date) async {
        let chain = presented.certificates
        guard !chain.isEmpty else { return }
        presented.record(validation: await validateChain(chain, now: now))
    }

    /// Why a live connection of `identity` from `peerAddress` would no longer be admitted, if it would not:
    /// the device is gone, disabled, blocked, outside the allow list or the IP filter.
    public func revocation(of identity: DeviceIdentity, peerAddress: IPAddress) -> WardenError? {
        guard let entry = directory.entry(identity.tenantID, identity.deviceID) else {
            return WardenError(.deviceNotFound, "Device '\(identity.deviceID)' was deleted.")
        }
        if let refusal = directory.revocation(identity.tenantID, path: identity.certificatePath, now: Date()) {
            return refusal
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

    private func admit(_ identity: DeviceIdentity, _ device: Device) throws(AuthenticationRefusal) {
        guard device.status == .enabled else {
            throw AuthenticationRefusal(
                reason: WardenError(.authForbidden, "Device '\(identity.deviceID)' is disabled."),
                isCredentialFailure: false)
        }
        switch directory.accessVerdict(identity.tenantID, identity.deviceID) {
        case .allowed, nil: return
        case .blocked:
            throw AuthenticationRefusal(
                reason: WardenError(.authForbidden, "Device '\(identity.deviceID)' is on the block list."),
                isCredentialFailure: false)
        case .notAllowed:
            throw AuthenticationRefusal(
                reason: WardenError(.authForbidden, "Device '\(identity.deviceID)' is not on the allow list."),
                isCredentialFailure: false)
        }
    }

    /// Does the HMAC a known device would cost, and throws the result away.
    private func spendDecoyHMAC(_ password: [UInt8]?) {
        guard let password, let token = try? SASToken.parse(String(decoding: password, as: UTF8.self)) else { return }
        _ = try? SASTokenVerifier.verify(token, resource: token.resource, primary: decoy, secondary: decoy, now: 0)
    }

    /// The record of one attempt, the same for every protocol: the tenant (proved, or named by the claim's
    /// host), the principal, what was presented, and how it ended. Never holds a credential.
    public func record(
        _ credentials: DeviceCredentials, _ outcome: AuthenticationOutcome, protocolName: String,
        referenceID: String, at: Date
    ) -> AuthenticationRecord {
        let tenantID: TenantID?
        let method: AuthenticationRecord.Method
        var failure: WardenError.Code?
        var isCredentialFailure = false
        var guessedDevice: DeviceID?
        switch outcome {
        case .accepted(.device(let device)):
            tenantID = device.tenantID
            method =
                switch device.method {
                case .sas: .sas
                case .x509Thumbprint: .x509Thumbprint
                case .x509CA: .x509CA
                }
        case .accepted(.service(let service)):
            (tenantID, method) = (service.tenantID, .service)
        case .anonymous(let tenant):
            (tenantID, method) = (tenant, .anonymous)
        case .refused(let refusal):
            let hostName = credentials.hostName ?? (try? audienceHost(credentials.sasToken)) ?? nil
            tenantID = hostName.flatMap(directory.tenant(forHost:))
            method = credentials.attemptedMethod
            failure = refusal.reason.code
            isCredentialFailure = refusal.isCredentialFailure
            if case .device(let deviceID) = credentials.claim, refusal.isCredentialFailure,
                refusal.reason.code != .deviceNotFound, tenantID != nil
            {
                guessedDevice = deviceID
            }
        }
        return AuthenticationRecord(
            tenantID: tenantID, principal: credentials.claim.principal, peerAddress: credentials.peerAddress,
            protocolName: protocolName,
            method: method, isAccepted: failure == nil, failure: failure, isCredentialFailure: isCredentialFailure,
            guessedDevice: guessedDevice,
            certificateThumbprint: credentials.certificate?.thumbprints.first { $0.algorithm == .sha256 },
            referenceID: referenceID, at: at)
    }
}
