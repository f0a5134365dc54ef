public import Foundation
import Metrics
import Synchronization
public import WardenAuthentication
public import WardenAzure
public import WardenBroker
public import WardenCore
public import WardenHub
public import WardenPKI
public import WardenRegistry
import WardenSecurity
public import WardenStore

/// Zero-touch provisioning (issue 15), compatible with Azure's Device Provisioning Service over MQTT: each
/// tenant has an ID scope; enrollments (a group sharing a key, or one device) say who may provision
/// themselves; a device that proves an enrollment's key or certificate registers and is created in the tenant
/// with credentials it can use at once — for a symmetric-key group, the key DPS derives from the group key and
/// its registration id; for an X.509 group, its certificate through the tenant's CA.
///
/// It is the broker's `ProvisioningGateway`: a DPS CONNECT is proved from the in-memory enrollments (kept by
/// following the bus), and register / operation-status requests are answered with DPS's shapes.
public final class ProvisioningService: ProvisioningGateway, Sendable {
    struct State {
        var scopes: [String: TenantID] = [:]
        var enrollments: [TenantID: [Enrollment.Kind: Enrollment]] = [:]
        /// Verified tenant CAs' thumbprints, for X.509 groups.
        var authorities: [TenantID: [CAName: Thumbprint]] = [:]
        var operations: [String: Operation] = [:]
        var requests: [String: [Date]] = [:]
        /// When `requests` was last rid of keys idle for a minute.
        var requestsPruned = Date.distantPast
        /// Counts the changes followed from the bus, so that a `load` can tell whether one came while it read.
        var changesFollowed: UInt64 = 0
    }

    /// A registration's result, kept for its status polls.
    struct Operation {
        let identity: RegistrationIdentity
        let body: [UInt8]
        let expires: Date
    }

    /// Most operations kept for polling, and for how long.
    static let maximumOperations = 10_000
    static let operationLifetime: TimeInterval = 600
    /// Requests one registration id, or one address, may make in a minute before it is told to wait.
    public static let requestsPerMinute = 20
    /// Registration ids and addresses counted at once, at most.
    static let maximumCounted = 100_000

    let store: any ProvisioningStore & CertificateAuthorityStore
    let registry: RegistryService
    let twins: TwinService
    /// Issues certificates to registrations that send a CSR; nil issues none.
    let certificates: CertificateService?
    /// What the tenants revoked (their own CAs' certificates and external CAs' CRLs), for X.509 attestation.
    let directory: DeviceDirectory?
    let bus: EventBus
    let clock: any WardenClock
    let state = Mutex(State())
    /// Operations the store could not keep or read (a poll on another node then answers 404).
    let unstoredOperations = Counter(label: "warden_provisioning_operation_store_failures_total")

    public init(
        store: any ProvisioningStore & CertificateAuthorityStore, registry: RegistryService, twins: TwinService,
        certificates: CertificateService? = nil, directory: DeviceDirectory? = nil, bus: EventBus,
        clock: any WardenClock = SystemClock()
    ) {
        self.certificates = certificates
        self.directory = directory
        self.store = store
        self.registry = registry
        self.twins = twins
        self.bus = bus
        self.clock = clock
    }

    /// Keeps the in-memory enrollments current.
    public func follow(_ bus: EventBus) {
        bus.observe { [weak self] event in
            switch event {
            case .enrollmentChanged, .enrollmentDeleted, .certificateAuthorityChanged, .certificateAuthorityDeleted,
                .tenantDeleted:
                self?.state.withLock { $0.changesFollowed &+= 1 }
            default:
                break
            }
            switch event {
            case .enrollmentChanged(let enrollment):
                let knowsScope = self?.state.withLock { state in
                    state.enrollments[enrollment.tenantID, default: [:]][enrollment.kind] = enrollment
                    return state.scopes.values.contains(enrollment.tenantID)
                }
                // An enrollment made on another node of a cluster: its tenant's scope is in the store.
                if knowsScope == false { Task { _ = try? await self?.idScope(enrollment.tenantID) } }
            case .enrollmentDeleted(let tenantID, let kind):
                self?.state.withLock { _ = $0.enrollments[tenantID]?.removeValue(forKey: kind) }
            case .certificateAuthorityChanged(let authority):
                self?.state.withLock {
                    $0.authorities[authority.tenantID, default: [:]][authority.name] =
                        authority.isVerified ? authority.thumbprint : nil
                }
            case .certificateAuthorityDeleted(let tenantID, let name):
                self?.state.withLock { _ = $0.authorities[tenantID]?.removeValue(forKey: name) }
            case .tenantDeleted(let tenantID):
                self?.state.withLock { state in
                    state.enrollments[tenantID] = nil
                    state.scopes = state.scopes.filter { $0.value != tenantID }
                }
            default:
                break
            }
        }
    }

    /// Reads every tenant's scope, enrollments and verified CAs (of the tenants `tenants` lists): at start-up
    /// (before listeners open), and on a node of a cluster that may have missed other nodes' notices (what they
    /// deleted meanwhile goes). A change followed while it read may be newer than the read: then it reads again
    /// (the third read is taken as it is).
    public func load(tenants: () async throws -> [TenantID]) async throws {
        for attempt in 1...3 {
            let seen = state.withLock { $0.changesFollowed }
            var loaded = State()
            for authority in try await store.allCertificateAuthorities() where authority.isVerified {
                loaded.authorities[authority.tenantID, default: [:]][authority.name] = authority.thumbprint
            }
            for tenantID in try await tenants() {
                loaded.scopes[try await idScope(tenantID)] = tenantID
                for enrollment in try await store.enrollments(tenantID) {
                    loaded.enrollments[tenantID, default: [:]][enrollment.kind] = enrollment
                }
            }
            let isTaken = state.withLock { state in
                guard state.changesFollowed == seen || attempt == 3 else { return false }
                // A scope assigned here meanwhile (a tenant's first enrollment) stays; scopes only go with tenants.
                state.scopes.merge(loaded.scopes) { _, stored in stored }
                state.enrollments = loaded.enrollments
                state.authorities = loaded.authorities
                return true
            }
            if isTaken { return }
        }
    }

    // MARK: Scopes and enrollments

    /// The tenant's ID scope (`0ne` and 8 hex digits from the CSPRNG, assigned on first use).
    public func idScope(_ tenantID: TenantID) async throws -> String {
        let candidate = "0ne" + Hex.encode(SecretBytes.random(count: 4).bytes, uppercase: true)
        let scope = try await store.idScope(tenantID, orAssign: candidate)
        state.withLock { $0.scopes[scope] = tenantID }
        return scope
    }

    /// Creates an enrollment: a group or an individual device, with symmetric keys made here (a group's 64
    /// bytes, as DPS makes them; a device's 32) unless `attestation` is X.509 (a group's tenant CA, which must be
    /// verified; an individual's certificate thumbprints). `initialDesired` is a JSON object the twin's desired
    /// properties start with.
    public func createEnrollment(
        _ tenantID: TenantID, _ kind: Enrollment.Kind, attestation: Enrollment.Attestation? = nil,
        deviceID: DeviceID? = nil, initialDesired: JSONValue? = nil, enabled: Bool = true,
        assignment: EnrollmentAssignment = EnrollmentAssignment()
    ) async throws -> Enrollment {
        try Self.checkInitialDesired(initialDesired)
        try await check(assignment)
        let isGroup = if case .group = kind { true } else { false }
        if isGroup, deviceID != nil {
            throw WardenError(.requestInvalidField, "A group's devices are named by their registration ids.")
        }
        switch attestation {
        case .certificateAuthority(let name)?:
            guard isGroup else {
                throw WardenError(.requestInvalidField, "An individual enrollment names thumbprints.")
            }
            let authority = try await registry.certificateAuthority(tenantID, name)
            guard authority.isVerified else {
                throw WardenError(.caVerificationCodeMissing, "CA '\(name)' is not verified: prove possession first.")
            }
        case .thumbprints?:
            guard !isGroup else { throw WardenError(.requestInvalidField, "A group names a certificate authority.") }
        case .symmetricKey?, nil:
            break
        }
        let length = isGroup ? 64 : SASKeyPair.keyLength
        let now = clock.now()
        let enrollment = Enrollment(
            tenantID: tenantID, kind: kind,
            attestation: attestation
                ?? .symmetricKey(SASKeyPair(primary: .random(count: length), secondary: .random(count: length))),
            isEnabled: enabled, initialDesired: initialDesired, deviceID: deviceID, tenants: assignment.tenants,
            allocation: assignment.allocation, reprovisioning: assignment.reprovisioning, createdAt: now, updatedAt: now
        )
        _ = try await idScope(tenantID)
        let created = try await store.createEnrollment(enrollment)
        bus.publish(.enrollmentChanged(created))
        return created
    }

    /// Changes an enrollment: enabled or not (a disabled one provisions nobody), its initial twin, where its
    /// registrations go and what a registration again does. Nil leaves a setting as it is.
    public func updateEnrollment(
        _ tenantID: TenantID, _ kind: Enrollment.Kind, enabled: Bool? = nil, initialDesired: JSONValue? = nil,
        assignment: EnrollmentAssignment? = nil
    ) async throws -> Enrollment {
        try Self.checkInitialDesired(initialDesired)
        if let assignment { try await check(assignment) }
        let now = clock.now()
        let changed = try await store.updateEnrollment(tenantID, kind) {
            if let enabled { $0.isEnabled = enabled }
            if let initialDesired { $0.initialDesired = initialDesired }
            if let assignment {
                ($0.tenants, $0.allocation, $0.reprovisioning) =
                    (assignment.tenants, assignment.allocation, assignment.reprovisioning)
            }
            $0.updatedAt = now
        }
        bus.publish(.enrollmentChanged(changed))
        return changed
    }

    /// Enables or disables an enrollment: a disabled one provisions nobody.
    public func setEnabled(_ tenantID: TenantID, _ kind: Enrollment.Kind, _ enabled: Bool) async throws -> Enrollment {
        try await updateEnrollment(tenantID, kind, enabled: enabled)
    }

    private static func checkInitialDesired(_ initialDesired: JSONValue?) throws {
        guard let initialDesired else { return }
        guard case .object(let properties) = initialDesired else {
            throw WardenError(.requestInvalidField, "The initial twin's desired properties are a JSON object.")
        }
        try TwinService.check(properties)
    }

    /// Most tenants one enrollment assigns to, and the longest webhook URL.
    public static let maximumTenants = 16
    public static let maximumWebhookLength = 2048

    /// The tenants exist and are named once; `static` names at most one; a webhook is an http(s) URL.
    private func check(_ assignment: EnrollmentAssignment) async throws {
        guard assignment.tenants.count <= Self.maximumTenants,
            Set(assignment.tenants).count == assignment.tenants.count
        else {
            throw WardenError(
                .requestInvalidField, "An enrollment names up to \(Self.maximumTenants) tenants, each once.")
        }
        for tenantID in assignment.tenants { _ = try await registry.tenant(tenantID) }
        switch assignment.allocation {
        case .static:
            guard assignment.tenants.count <= 1 else {
                throw WardenError(.requestInvalidField, "A static allocation names one tenant; use hashed or custom.")
            }
        case .hashed:
            break
        case .custom(let webhook):
            guard webhook.utf8.count <= Self.maximumWebhookLength, let url = URL(string: webhook),
                ["http", "https"].contains(url.scheme?.lowercased()), url.host?.isEmpty == false
            else {
                throw WardenError(.requestInvalidField, "The allocation webhook is an http or https URL.")
            }
        }
    }

    public func deleteEnrollment(_ tenantID: TenantID, _ kind: Enrollment.Kind) async throws {
        try await store.deleteEnrollment(tenantID, kind)
        bus.publish(.enrollmentDeleted(tenantID, kind))
    }

    public func enrollments(_ tenantID: TenantID) async throws -> [Enrollment] {
        _ = try await registry.tenant(tenantID)
        return try await store.enrollments(tenantID)
    }

    public func enrollment(_ tenantID: TenantID, _ kind: Enrollment.Kind) async throws -> Enrollment {
        guard let enrollment = try await store.enrollment(tenantID, kind) else {
            throw WardenError(.enrollmentNotFound, "There is no enrollment \(kind.reference) in '\(tenantID)'.")
        }
        return enrollment
    }

    // MARK: ProvisioningGateway

    public func authenticate(
        _ username: ProvisioningUsername, token: [UInt8]?, certificate: DeviceCredentials.Certificate?, now: UInt64
    ) throws(WardenError) -> RegistrationIdentity {
        let (tenantID, individual, groups, authorities) = state.withLock { state in
            let tenantID = state.scopes[username.idScope]
            let enrollments = tenantID.flatMap { state.enrollments[$0] } ?? [:]
            return (
                tenantID, enrollments[.individual(username.registrationID)],
                enrollments.values.filter { if case .group = $0.kind { true } else { false } }
                    .sorted { $0.kind.reference < $1.kind.reference },
                tenantID.flatMap { state.authorities[$0] } ?? [:]
            )
        }
        guard let tenantID else {
            throw WardenError(.authInvalidCredential, "ID scope '\(username.idScope)' is not one of this hub's.")
        }
        // An individual enrollment takes precedence over any group, as in DPS.
        let candidates = individual.map { [$0] } ?? groups
        let proves: (Enrollment) -> Bool
        if let token {
            let sas = try Self.sas(token)
            proves = { enrollment in
                guard var keys = enrollment.attestation.keys else { return false }
                if case .group = enrollment.kind { keys = keys.derived(for: username.registrationID.rawValue) }
                return
                    (try? SASTokenVerifier.verify(
                        sas, resource: username.resource, primary: SASKey(keys.primary),
                        secondary: SASKey(keys.secondary),
                        now: now)) != nil
            }
        } else if let certificate {
            // A revoked certificate (by the tenant's CA, a CRL or an OCSP responder) proves nothing, as at a hub
            // CONNECT: it would otherwise register, and with a CSR be issued a fresh certificate.
            if let chain = certificate.chain, chain.tenants.contains(tenantID),
                let refusal = chain.refusals[tenantID] ?? directory?.revocation(tenantID, path: chain.path, now: Date())
            {
                throw refusal
            }
            proves = { enrollment in
                Self.certificate(
                    certificate, proves: enrollment, as: username.registrationID, in: tenantID, authorities)
            }
        } else {
            throw WardenError(
                .authInvalidCredential, "A registration proves itself with a SAS token or a client certificate.")
        }
        for enrollment in candidates where proves(enrollment) {
            guard enrollment.isEnabled else {
                throw WardenError(.enrollmentDisabled, "Enrollment \(enrollment.kind.reference) is disabled.")
            }
            return RegistrationIdentity(
                tenantID: tenantID, idScope: username.idScope, registrationID: username.registrationID,
                enrollment: enrollment.kind)
        }
        throw WardenError(
            .authInvalidCredential, "No enrollment's key or CA proves '\(username.registrationID)'.")
    }

    /// Answers one DPS request over HTTPS, proved by itself (a SAS token in `Authorization`, else the
    /// connection's client certificate) as a CONNECT is; a refusal is a registration record with the reference
    /// id the error carries. The answer is the status, JSON body and `Retry-After`.
    public func answerRequest(
        _ request: ProvisioningRequest, _ username: ProvisioningUsername, authorization: String?,
        certificate: DeviceCredentials.Certificate?, body: [UInt8], peer: IPAddress
    ) async throws(WardenError) -> (status: Int, body: [UInt8], retryAfter: Int?) {
        // The address's budget is spent before the proof, so that refused attempts are limited (and recorded)
        // no faster than MQTT's CONNECTs are.
        guard admit("\(peer)", at: clock.now()) else {
            let refused = Self.tooManyRequests(now: clock.now())
            return (refused.status, refused.body, refused.retryAfter)
        }
        let identity = try authenticateRequest(
            username, authorization: authorization, certificate: certificate, peer: peer)
        let answer = await answer(request, body: body, from: identity, peer: peer, addressAdmitted: true)
        return (answer.status, answer.body, answer.retryAfter)
    }

    private func authenticateRequest(
        _ username: ProvisioningUsername, authorization: String?, certificate: DeviceCredentials.Certificate?,
        peer: IPAddress
    ) throws(WardenError) -> RegistrationIdentity {
        let now = clock.now()
        do throws(WardenError) {
            return try authenticate(
                username, token: authorization.map { Array($0.utf8) }, certificate: certificate, now: now.unixSeconds)
        } catch {
            let reference = ReferenceID.make()
            bus.publish(
                .registration(
                    RegistrationRecord(
                        tenantID: nil, idScope: username.idScope, registrationID: username.registrationID.rawValue,
                        enrollment: nil, deviceID: nil, peerAddress: peer, failure: error.code, reason: error.reason,
                        referenceID: reference, at: now)))
            throw WardenError(error.code, "The registration was refused (reference \(reference)).")
        }
    }

    /// A DPS SAS token: no key name (Python) or `registration` (C, C#).
    private static func sas(_ token: [UInt8]) throws(WardenError) -> SASToken {
        guard let parsed = try? SASToken.parse(String(decoding: token, as: UTF8.self)) else {
            throw WardenError(.authInvalidCredential, "The password is not a SAS token.")
        }
        guard parsed.keyName == nil || parsed.keyName?.rawValue == "registration" else {
            throw WardenError(.authInvalidCredential, "A registration's SAS token names key 'registration' or none.")
        }
        return parsed
    }

    /// Whether a client certificate proves an X.509 enrollment: an individual's thumbprint, or a chain to a
    /// group's tenant CA with CN = the registration id (DPS's rule).
    private static func certificate(
        _ certificate: DeviceCredentials.Certificate, proves enrollment: Enrollment, as registrationID: DeviceID,
        in tenantID: TenantID, _ authorities: [CAName: Thumbprint]
    ) -> Bool {
        switch enrollment.attestation {
        case .symmetricKey:
            return false
        case .thumbprints(let primary, let secondary):
            return certificate.thumbprints.contains { $0 == primary || $0 == secondary }
        case .certificateAuthority(let name):
            guard let chain = certificate.chain, chain.tenants.contains(tenantID),
                chain.commonName == registrationID.rawValue, let thumbprint = authorities[name]
            else { return false }
            return chain.path.contains { $0.issuer == thumbprint }
        }
    }

    public func answer(
        _ request: ProvisioningRequest, body: [UInt8], from identity: RegistrationIdentity, peer: IPAddress
    ) async -> ProvisioningAnswer {
        await answer(request, body: body, from: identity, peer: peer, addressAdmitted: false)
    }

    private static func tooManyRequests(now: Date) -> ProvisioningAnswer {
        ProvisioningAnswer(
            status: 429, body: Self.error(429_001, "Too many requests; try again later.", now: now), retryAfter: 10)
    }

    public func oneAtATime() -> ProvisioningAnswer {
        ProvisioningAnswer(
            status: 429,
            body: Self.error(429_001, "The connection's previous request is still being answered.", now: clock.now()),
            retryAfter: 1)
    }

    private func answer(
        _ request: ProvisioningRequest, body: [UInt8], from identity: RegistrationIdentity, peer: IPAddress,
        addressAdmitted: Bool
    ) async -> ProvisioningAnswer {
        let now = clock.now()
        guard admit(identity.registrationID.rawValue, at: now), addressAdmitted || admit("\(peer)", at: now) else {
            return Self.tooManyRequests(now: now)
        }
        switch request {
        case .register:
            let result = await register(identity, body: body, peer: peer, now: now)
            let operationID = UUID().uuidString.lowercased()
            let operation = Operation(
                identity: identity, body: Self.status(operationID, result), expires: now + Self.operationLifetime)
            state.withLock { state in
                state.operations = state.operations.filter { $0.value.expires > now }
                if state.operations.count >= Self.maximumOperations,
                    let oldest = state.operations.min(by: { $0.value.expires < $1.value.expires })
                {
                    state.operations[oldest.key] = nil
                }
                state.operations[operationID] = operation
            }
            // Stored for a poll that reaches another node; a poll here is answered from memory even when the
            // store could not keep it (then that node answers 404, counted, and the device registers again).
            do {
                try await store.putProvisioningOperation(
                    StoredProvisioningOperation(
                        id: operationID, tenantID: identity.tenantID, registrationID: identity.registrationID,
                        enrollment: identity.enrollment.reference, body: operation.body,
                        expiresAt: operation.expires.unixMilliseconds),
                    now: now.unixMilliseconds)
            } catch {
                unstoredOperations.increment()
            }
            return ProvisioningAnswer(
                status: 202, body: Self.json(["operationId": .string(operationID), "status": "assigning"]),
                retryAfter: 1)
        case .operationStatus(_, let operationID):
            if let operation = state.withLock({ $0.operations[operationID] }), operation.identity == identity {
                return ProvisioningAnswer(status: 200, body: operation.body)
            }
            // Another node's registration (a load balancer between the device and the nodes).
            let stored: StoredProvisioningOperation?
            do {
                stored = try await store.provisioningOperation(operationID, now: now.unixMilliseconds)
            } catch {
                unstoredOperations.increment()
                stored = nil
            }
            if let stored, stored.tenantID == identity.tenantID, stored.registrationID == identity.registrationID,
                stored.enrollment == identity.enrollment.reference
            {
                return ProvisioningAnswer(status: 200, body: stored.body)
            }
            return ProvisioningAnswer(
                status: 404, body: Self.error(404_201, "There is no such operation for this registration.", now: now))
        }
    }

    /// Whether `key` may make another request now (a sliding minute). With `maximumCounted` keys counted, idle ones
    /// are forgotten at most once a second; a new key finding the table still full waits like one over its rate
    /// (many addresses at once, an IPv6 range: the table and the time under its lock stay bounded).
    func admit(_ key: String, at now: Date) -> Bool {
        state.withLock { state in
            if state.requests[key] == nil, state.requests.count >= Self.maximumCounted {
                if now.timeIntervalSince(state.requestsPruned) >= 1 {
                    state.requestsPruned = now
                    state.requests = state.requests.filter { $0.value.contains { now.timeIntervalSince($0) < 60 } }
                }
                guard state.requests.count < Self.maximumCounted else { return false }
            }
            var recent = (state.requests[key] ?? []).filter { now.timeIntervalSince($0) < 60 }
            guard recent.count < Self.requestsPerMinute else { return false }
            recent.append(now)
            state.requests[key] = recent
            return true
        }
    }
}
