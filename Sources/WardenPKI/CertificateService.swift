public import Foundation
public import Logging
import Metrics
public import ServiceLifecycle
import Synchronization
public import WardenCore
public import WardenSecurity
public import WardenStore
import X509

/// Warden as a certificate authority per tenant (issue 15): issuing CAs whose keys it holds, device
/// certificates issued from CSRs, renewed and revoked, and the CRLs and OCSP answers that publish revocations.
///
/// Every change commits to the store, then goes out as a `DomainEvent` (`certificateAuthorityChanged`,
/// `certificateIssued`, `certificateRevoked`), which the directory and the broker follow: a revocation closes
/// the connections that presented the certificate before the call returns.
public final class CertificateService: Service, Sendable {
    /// What a certificate service is configured with.
    public struct Settings: Sendable {
        /// The URL CRL distribution points and OCSP responder locations start with (`https://host:8443`).
        public var baseURL: String
        /// How long a CRL is valid (its `nextUpdate`); it is signed again after half of it, or at a revocation.
        public var crlValidity: TimeInterval = 86_400
        /// How long an OCSP answer is valid (its `nextUpdate`).
        public var ocspValidity: TimeInterval = 3_600
        /// Device certificates' lifetime when none is asked for, and the longest that may be.
        public var defaultDays = 365
        public var maximumDays = 3_650

        public init(baseURL: String) {
            self.baseURL = baseURL
        }
    }

    struct CachedList {
        let der: [UInt8]
        let thisUpdate: Date
        let number: UInt64
    }

    /// A CRL distribution point Warden fetches for an external CA.
    struct Fetch {
        let url: String
        let refresh: TimeInterval
        var due: Date
        var error: String?
    }

    struct Caches {
        var authorities: [AuthorityKey: IssuingAuthority] = [:]
        var lists: [AuthorityKey: CachedList] = [:]
        var lastNumber: UInt64 = 0
        /// External CAs' CRLs in force, and their fetch schedules.
        var external: [AuthorityKey: RevocationListState] = [:]
        var fetches: [AuthorityKey: Fetch] = [:]
    }

    struct AuthorityKey: Hashable {
        let tenantID: TenantID
        let name: CAName
    }

    let store: any IssuedCertificateStore & CertificateAuthorityStore
    let bus: EventBus
    let clock: any WardenClock
    let logger: Logger
    public let settings: Settings
    /// A PKCS #11 token that generates and keeps new CAs' keys; nil keeps them sealed in the store.
    let hardware: (any HardwareSigner)?
    let caches = Mutex(Caches())
    private let baseURL: Mutex<String>
    private let writes = SerialWrites()

    public init(
        store: any IssuedCertificateStore & CertificateAuthorityStore, bus: EventBus, settings: Settings,
        hardware: (any HardwareSigner)? = nil, clock: any WardenClock = SystemClock(),
        logger: Logger = Logger(label: "warden.pki")
    ) {
        self.hardware = hardware
        self.logger = logger
        self.store = store
        self.bus = bus
        self.settings = settings
        self.baseURL = Mutex(settings.baseURL)
        self.clock = clock
    }

    /// Points certificates issued from now on at `url` (a listener bound a port chosen at start-up).
    public func serve(at url: String) {
        baseURL.withLock { $0 = url }
    }

    /// Certificates still valid, and those of them that expire within `expiryWarning` (for alerts).
    private let validGauge = Gauge(label: "warden_pki_certificates_valid")
    private let expiringGauge = Gauge(label: "warden_pki_certificates_expiring")
    /// What `warden_pki_certificates_expiring` counts as expiring soon.
    public static let expiryWarning: TimeInterval = 30 * 86_400

    /// Fetches CRLs that are due every second, and counts valid and soon-expiring certificates every minute
    /// for the metrics.
    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var lastCount = Date.distantPast
            while !Task.isCancelled {
                await self.fetchDue()
                let now = self.clock.now()
                if now.timeIntervalSince(lastCount) >= 60,
                    let counts = try? await self.store.countValidCertificates(
                        now: now, expiringBefore: now.addingTimeInterval(Self.expiryWarning))
                {
                    lastCount = now
                    self.validGauge.record(counts.valid)
                    self.expiringGauge.record(counts.expiring)
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Forgets a deleted CA's key and CRLs; follows CAs' revocation checks for fetching, and other nodes'
    /// accepted CRLs and revocations (Warden's own CRL of that CA is signed again at its next request).
    public func follow(_ bus: EventBus) {
        bus.observeWithOrigin { [weak self] event, origin in
            switch event {
            case .certificateAuthorityChanged(let authority):
                self?.schedule(authority)
            case .revocationListChanged(let state) where origin == .otherNode:
                self?.take(state)
            case .certificateRevoked(let revoked) where origin == .otherNode:
                let key = AuthorityKey(tenantID: revoked.tenantID, name: revoked.authority)
                self?.caches.withLock { _ = $0.lists.removeValue(forKey: key) }
            case .deviceDeleted(let tenantID, let deviceID) where origin == .thisNode:
                // A device created again under the same id must not inherit the old one's certificates (the
                // node that deleted it revokes them, once).
                Task { await self?.revokeCertificates(of: deviceID, in: tenantID) }
            case .certificateAuthorityDeleted(let tenantID, let name):
                let key = AuthorityKey(tenantID: tenantID, name: name)
                self?.caches.withLock {
                    $0.authorities[key] = nil
                    $0.lists[key] = nil
                    $0.external[key] = nil
                    $0.fetches[key] = nil
                }
            default:
                break
            }
        }
    }

    // MARK: Authorities

    /// Makes an issuing CA for the tenant: a P-256 root named `commonName` (the CA's name when nil), valid for
    /// `days`, its key sealed in the store, verified at once for `x509-ca` devices.
    public func createAuthority(_ tenantID: TenantID, _ name: CAName, commonName: String?, days: Int) async throws
        -> CertificateAuthority
    {
        guard (1...36_500).contains(days) else {
            throw WardenError(.certificateInvalidLifetime, "A CA's lifetime is 1 to 36500 days, not \(days).")
        }
        if let commonName, !(1...64).contains(commonName.count) {
            throw WardenError(.requestInvalidField, "A CA's common name is 1 to 64 characters.")
        }
        let now = clock.now()
        let subject: DistinguishedName
        do {
            subject = try DistinguishedName {
                OrganizationName("Warden tenant \(tenantID)")
                CommonName(commonName ?? name.rawValue)
            }
        } catch {
            throw WardenError(.requestInvalidField, "The CA's common name cannot be used: \(error).")
        }
        let lifetime = Double(days) * 86_400
        let made: IssuingAuthority
        let key: IssuingKey
        if let hardware {
            // A fresh label per CA: a CA deleted and created again under its name never meets the old key.
            let label = "warden-ca/\(tenantID)/\(name)/" + Hex.encode(SecretBytes.random(count: 4).bytes)
            made = try IssuingAuthority.generate(
                subject: subject, now: now, lifetime: lifetime, in: hardware, label: label)
            key = .token(label: label)
        } else {
            let generated = try IssuingAuthority.generate(subject: subject, now: now, lifetime: lifetime)
            (made, key) = (generated.authority, .sealed(generated.privateKeyPEM))
        }
        let authority = CertificateAuthority(
            tenantID: tenantID, name: name, certificatePEM: made.certificatePEM, thumbprint: made.thumbprint,
            subject: subject.description, notValidAfter: made.certificate.notValidAfter, isVerified: true,
            isIssuing: true, createdAt: now)
        return try await commit {
            let stored = try await self.store.createIssuingAuthority(authority, key: key)
            return (stored, [.certificateAuthorityChanged(stored)])
        }
    }

    // MARK: Certificates

    /// Issues a device certificate from a PEM CSR: CN = `deviceID` (a CSR naming another CN is refused), valid
    /// for `days` (the configured default when nil).
    public func issue(
        _ tenantID: TenantID, authority name: CAName, csrPEM: String, deviceID: DeviceID, days: Int?, by author: String
    ) async throws -> IssuedCertificate {
        try await sign(tenantID, name, csrPEM: csrPEM, deviceID: deviceID, days: days, by: author, renewing: nil)
    }

    /// A new certificate for the device and CA of `serial`, from a new CSR (or the same key's again). The old
    /// certificate stays valid until it expires or is revoked.
    public func renew(_ tenantID: TenantID, serial: String, csrPEM: String, days: Int?, by author: String) async throws
        -> IssuedCertificate
    {
        let old = try await certificate(tenantID, serial: serial)
        if old.revocation != nil {
            throw WardenError(
                .certificateAlreadyRevoked, "Certificate '\(old.serial.serial)' is revoked; issue a new one.")
        }
        return try await sign(
            tenantID, old.authority, csrPEM: csrPEM, deviceID: old.deviceID, days: days, by: author, renewing: old)
    }

    /// Revokes a certificate: listed in the CA's next CRL, `revoked` in OCSP answers, refused at connect, and
    /// every live connection that presented it closed.
    public func revoke(_ tenantID: TenantID, serial: String, reason: RevocationReason) async throws -> IssuedCertificate
    {
        let canonical = try Self.canonical(serial)
        let revocation = IssuedCertificate.Revocation(at: clock.now(), reason: reason)
        let revoked = try await commit {
            let revoked = try await self.store.revokeCertificate(tenantID, serial: canonical, revocation)
            return (revoked, [.certificateRevoked(revoked)])
        }
        caches.withLock { _ = $0.lists.removeValue(forKey: AuthorityKey(tenantID: tenantID, name: revoked.authority)) }
        return revoked
    }

    /// Revokes every valid certificate issued to a device, for `reason`; returns how many.
    @discardableResult
    public func revokeCertificates(of deviceID: DeviceID, in tenantID: TenantID, reason: RevocationReason)
        async throws -> Int
    {
        var cursor: String?
        var serials: [String] = []
        repeat {
            let page = try await store.issuedCertificates(
                tenantID, filter: IssuedCertificateFilter(deviceID: deviceID, status: .valid), now: clock.now(),
                after: cursor, limit: 1_000)
            serials += page.items.map(\.serial.serial)
            cursor = page.nextCursor
        } while cursor != nil
        for serial in serials {
            _ = try await revoke(tenantID, serial: serial, reason: reason)
        }
        return serials.count
    }

    /// Revokes every valid certificate issued to a deleted device (`cessationOfOperation`).
    func revokeCertificates(of deviceID: DeviceID, in tenantID: TenantID) async {
        do {
            try await revokeCertificates(of: deviceID, in: tenantID, reason: .cessationOfOperation)
        } catch {
            logger.error(
                "Could not revoke a deleted device's certificates.",
                metadata: ["tenant.id": "\(tenantID)", "device.id": "\(deviceID)", "error": "\(error)"])
        }
    }

    /// One certificate, or `certificate.not_found`.
    public func certificate(_ tenantID: TenantID, serial: String) async throws -> IssuedCertificate {
        let canonical = try Self.canonical(serial)
        guard let found = try await store.issuedCertificate(tenantID, serial: canonical) else {
            throw WardenError(.certificateNotFound, "There is no certificate '\(serial)' in tenant '\(tenantID)'.")
        }
        return found
    }

    /// A page of the tenant's certificates.
    public func certificates(
        _ tenantID: TenantID, filter: IssuedCertificateFilter, after cursor: String?, limit: Int
    ) async throws -> Page<IssuedCertificate> {
        try await store.issuedCertificates(tenantID, filter: filter, now: clock.now(), after: cursor, limit: limit)
    }

    private func sign(
        _ tenantID: TenantID, _ name: CAName, csrPEM: String, deviceID: DeviceID, days: Int?, by author: String,
        renewing old: IssuedCertificate?
    ) async throws -> IssuedCertificate {
        let days = days ?? min(settings.defaultDays, settings.maximumDays)
        guard (1...settings.maximumDays).contains(days) else {
            throw WardenError(
                .certificateInvalidLifetime,
                "A device certificate's lifetime is 1 to \(settings.maximumDays) days, not \(days).")
        }
        let request = try DeviceCertificateRequest(pem: csrPEM)
        if let commonName = request.commonName, commonName != deviceID.rawValue {
            throw WardenError(
                .certificateRequestMismatch, "The CSR names '\(commonName)', not device '\(deviceID)'.")
        }
        let authority = try await issuingAuthority(tenantID, name)
        let now = clock.now()
        let signed = try authority.issueDeviceCertificate(
            request, deviceID: deviceID, now: now, lifetime: Double(days) * 86_400,
            locations: locations(tenantID, name))
        let issued = IssuedCertificate(
            tenantID: tenantID, authority: name, serial: signed.serial, deviceID: deviceID,
            thumbprint: signed.thumbprint, certificatePEM: signed.certificatePEM,
            notValidBefore: signed.notValidBefore, notValidAfter: signed.notValidAfter, issuedAt: now,
            issuedBy: author, renewedFrom: old?.serial.serial)
        return try await commit {
            try await self.store.addIssuedCertificate(issued)
            return (issued, [.certificateIssued(issued)])
        }
    }

    /// Where the certificates `name` issues send relying parties.
    func locations(_ tenantID: TenantID, _ name: CAName) -> IssuingAuthority.Locations {
        let url = baseURL.withLock { $0 }
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        return IssuingAuthority.Locations(
            crl: "\(base)/pki/\(tenantID)/\(name).crl", ocsp: "\(base)/pki/ocsp")
    }

    /// The loaded CA `name` of the tenant; `ca.not_issuing` for one Warden holds no key of.
    func issuingAuthority(_ tenantID: TenantID, _ name: CAName) async throws -> IssuingAuthority {
        let key = AuthorityKey(tenantID: tenantID, name: name)
        if let loaded = caches.withLock({ $0.authorities[key] }) { return loaded }
        guard let authority = try await store.certificateAuthorities(tenantID).first(where: { $0.name == name }) else {
            throw WardenError(.caNotFound, "There is no CA '\(name)' in tenant '\(tenantID)'.")
        }
        guard authority.isIssuing else {
            throw WardenError(.caNotIssuing, "CA '\(name)' was registered, not created: Warden holds no key for it.")
        }
        let loaded: IssuingAuthority
        switch try await store.issuingKey(tenantID, name) {
        case .sealed(let privateKeyPEM):
            loaded = try IssuingAuthority(certificatePEM: authority.certificatePEM, privateKeyPEM: privateKeyPEM)
        case .token(let label):
            guard let hardware else {
                throw WardenError(
                    .caNotIssuing, "CA '\(name)' keeps its key in a PKCS #11 token, and no HSM is configured ('hsm.*')."
                )
            }
            loaded = try IssuingAuthority(certificatePEM: authority.certificatePEM, in: hardware, label: label)
        }
        caches.withLock { $0.authorities[key] = loaded }
        return loaded
    }

    func commit<T: Sendable>(_ change: @escaping @Sendable () async throws -> (T, [DomainEvent])) async throws
        -> T
    {
        try await writes.run {
            let (value, events) = try await change()
            for event in events { self.bus.publish(event) }
            return value
        }
    }

    /// A serial as people write it (hex, any case, colons allowed) in its canonical form.
    static func canonical(_ serial: String) throws(WardenError) -> String {
        let hex = serial.replacingOccurrences(of: ":", with: "").uppercased()
        guard !hex.isEmpty, hex.count <= 64, hex.allSatisfy(\.isHexDigit) else {
            throw WardenError(.certificateNotFound, "'\(serial.prefix(80))' is not a certificate serial (hex).")
        }
        let trimmed = hex.drop { $0 == "0" }
        let even = trimmed.count % 2 == 0 ? String(trimmed) : "0" + trimmed
        return even.isEmpty ? "00" : even
    }
}

extension CertificateService {
    /// The CA's current CRL (DER): signed again when a certificate was revoked since, or when half its validity
    /// has passed. CRL numbers only grow: the Unix time, or one more than the last when that is not larger.
    public func revocationList(_ tenantID: TenantID, _ name: CAName) async throws -> [UInt8] {
        let key = AuthorityKey(tenantID: tenantID, name: name)
        let now = clock.now()
        if let cached = caches.withLock({ $0.lists[key] }),
            now.timeIntervalSince(cached.thisUpdate) < settings.crlValidity / 2
        {
            return cached.der
        }
        let authority = try await issuingAuthority(tenantID, name)
        var revoked: [RevokedEntry] = []
        var cursor: String?
        repeat {
            let page = try await store.issuedCertificates(
                tenantID, filter: IssuedCertificateFilter(authority: name, status: .revoked), now: now, after: cursor,
                limit: 1_000)
            revoked += page.items.compactMap { certificate in
                certificate.revocation.map {
                    RevokedEntry(serial: certificate.serial.serial, revokedAt: $0.at, reason: $0.reason)
                }
            }
            cursor = page.nextCursor
        } while cursor != nil
        let number = caches.withLock { caches in
            // total: Unix seconds of a real clock are far below UInt64's range; a clock before 1970 gives 0.
            caches.lastNumber = max(caches.lastNumber + 1, UInt64(max(0, now.timeIntervalSince1970)))
            return caches.lastNumber
        }
        let der = try authority.revocationList(
            revoked: revoked, number: number, thisUpdate: now, nextUpdate: now.addingTimeInterval(settings.crlValidity))
        caches.withLock { $0.lists[key] = CachedList(der: der, thisUpdate: now, number: number) }
        return der
    }

    /// Answers an OCSP request (DER) for certificates Warden's CAs issued: `good`, `revoked` or `unknown` for
    /// each, signed by the CA; `malformedRequest` for bytes that are not a request, `unauthorized` when no
    /// issuing CA of any tenant signed what it asks about.
    public func answerOCSP(_ der: [UInt8]) async -> [UInt8] {
        guard let query = OCSPQuery(der: der) else { return OCSPRefusal.malformedRequest.der }
        do {
            let authorities = try await store.allCertificateAuthorities().filter(\.isIssuing)
            for candidate in authorities {
                let authority = try await issuingAuthority(candidate.tenantID, candidate.name)
                guard query.items.contains(where: authority.isIssuer(of:)) else { continue }
                var statuses: [String: OCSPCertificateStatus] = [:]
                for item in query.items where authority.isIssuer(of: item) {
                    let found = try await store.issuedCertificate(candidate.tenantID, serial: item.serial)
                    statuses[item.serial] =
                        switch found {
                        case .some(let certificate) where certificate.authority == candidate.name:
                            certificate.revocation.map { .revoked(at: $0.at, reason: $0.reason) } ?? .good
                        default: .unknown
                        }
                }
                return try authority.answer(query, now: clock.now(), validity: settings.ocspValidity) {
                    statuses[$0] ?? .unknown
                }
            }
            return OCSPRefusal.unauthorized.der
        } catch {
            return OCSPRefusal.internalError.der
        }
    }
}
