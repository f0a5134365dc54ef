public import Foundation
public import WardenCore

/// Tenants and their host names.
public protocol TenantStore: Sendable {
    /// Inserts a tenant with an accept-all IP filter and empty access list, in one transaction.
    func createTenant(_ tenant: Tenant, etag: String) async throws -> Tenant
    /// Every tenant, in id order, after `cursor`.
    func tenants(after cursor: String?, limit: Int) async throws -> Page<Tenant>
    /// One tenant, or nil.
    func tenant(_ id: TenantID) async throws -> Tenant?
    /// Deletes an empty tenant; `tenant.not_empty` while it has devices.
    func deleteTenant(_ id: TenantID) async throws
}

/// Devices, their sealed keys and group memberships.
public protocol DeviceStore: Sendable {
    /// Inserts a device; `device.already_exists` if the id is taken in its tenant.
    func createDevice(_ device: Device) async throws -> Device
    /// One device, or nil.
    func device(_ tenantID: TenantID, _ id: DeviceID) async throws -> Device?
    /// A tenant's devices in id order after `cursor`.
    func devices(_ tenantID: TenantID, after cursor: String?, limit: Int) async throws -> Page<Device>
    /// Every device of every tenant, for warming the in-memory directory.
    func allDevices() async throws -> [Device]
    /// Reads, changes and writes one device in a single transaction; `change` may throw to abort.
    func updateDevice(
        _ tenantID: TenantID, _ id: DeviceID, _ change: @escaping @Sendable (inout Device) throws -> DeviceChange
    ) async throws -> (Device, DeviceChange)
    /// Deletes a device and its memberships; `device.not_found` if absent.
    func deleteDevice(_ tenantID: TenantID, _ id: DeviceID) async throws
    /// How many devices each tenant has.
    func deviceCounts() async throws -> [TenantID: Int]
}

/// Device groups and their members.
public protocol GroupStore: Sendable {
    /// Inserts a group; `group.already_exists` if the name is taken.
    func createGroup(_ group: DeviceGroup) async throws -> DeviceGroup
    /// One group, or nil.
    func group(_ tenantID: TenantID, _ name: GroupName) async throws -> DeviceGroup?
    /// A tenant's groups in name order after `cursor`.
    func groups(_ tenantID: TenantID, after cursor: String?, limit: Int) async throws -> Page<DeviceGroup>
    /// Every group of every tenant, for the directory.
    func allGroups() async throws -> [DeviceGroup]
    /// Adds or removes one member; the device must exist.
    func setMembership(_ tenantID: TenantID, _ name: GroupName, _ device: DeviceID, isMember: Bool) async throws
        -> DeviceGroup
    /// Deletes a group.
    func deleteGroup(_ tenantID: TenantID, _ name: GroupName) async throws
}

/// Per-tenant admission rules: the access list and the IP filter.
public protocol AdmissionStore: Sendable {
    /// The tenant's access list.
    func accessList(_ tenantID: TenantID) async throws -> AccessList
    /// Replaces the access list if `ifMatch` (when given) equals the current etag.
    func replaceAccessList(_ tenantID: TenantID, _ list: AccessList, ifMatch: String?) async throws -> AccessList
    /// The tenant's IP filter.
    func ipFilter(_ tenantID: TenantID) async throws -> IPFilter
    /// Replaces the IP filter if `ifMatch` (when given) equals the current etag.
    func replaceIPFilter(_ tenantID: TenantID, _ filter: IPFilter, ifMatch: String?) async throws -> IPFilter
    /// Every tenant's access list and IP filter, for the directory.
    func allAdmissionRules() async throws -> [TenantID: (AccessList, IPFilter)]
}

/// Tenant-level shared access policies (SAS `skn`).
public protocol PolicyStore: Sendable {
    /// Inserts a policy; `shared_access_policy.already_exists` if the name is taken.
    func createPolicy(_ policy: SharedAccessPolicy) async throws -> SharedAccessPolicy
    /// A tenant's policies in name order.
    func policies(_ tenantID: TenantID) async throws -> [SharedAccessPolicy]
    /// Every policy of every tenant, for the directory.
    func allPolicies() async throws -> [SharedAccessPolicy]
    /// Deletes a policy.
    func deletePolicy(_ tenantID: TenantID, _ name: PolicyName) async throws
}

/// Tenants' authorization policy documents, every version kept as written (up to a limit); the newest is in
/// force.
public protocol AuthorizationPolicyStore: Sendable {
    /// Appends a version numbered one past the tenant's newest, then drops the oldest beyond `keep` (but never
    /// the newest enforced one), in one transaction; `tenant.not_found` when the tenant does not exist.
    func appendPolicyVersion(
        _ tenantID: TenantID, document: String, isAuditOnly: Bool, author: String, createdAt: Date,
        restoredFrom: Int?, keep: Int
    ) async throws -> AuthorizationPolicyVersion
    /// A tenant's kept versions, newest first, without their documents.
    func policyVersions(_ tenantID: TenantID) async throws -> [AuthorizationPolicyVersion.Summary]
    /// One version, or nil (never written, or pruned).
    func policyVersion(_ tenantID: TenantID, _ number: Int) async throws -> AuthorizationPolicyVersion?
    /// The versions in force, for the directory: every tenant's newest and, when that one is audit-only, its
    /// newest enforced one; in version order.
    func currentPolicyVersions() async throws -> [AuthorizationPolicyVersion]
}

/// Hashes of management bearer credentials.
public protocol CredentialStore: Sendable {
    /// Stores (or replaces) the hash of a named credential.
    func storeCredentialHash(name: String, hash: [UInt8], createdAt: Date) async throws
    /// Every stored credential hash.
    func credentialHashes() async throws -> [String: [UInt8]]
}

/// Tenants' registered certificate authorities for `x509-ca` devices.
public protocol CertificateAuthorityStore: Sendable {
    /// Inserts a CA; `ca.already_exists` if the name or the certificate is registered in the tenant.
    func createCertificateAuthority(_ authority: CertificateAuthority) async throws -> CertificateAuthority
    /// A tenant's CAs in name order.
    func certificateAuthorities(_ tenantID: TenantID) async throws -> [CertificateAuthority]
    /// Every tenant's CAs, for warming the in-memory directory.
    func allCertificateAuthorities() async throws -> [CertificateAuthority]
    /// Reads, changes and writes one CA in a single transaction; `ca.not_found` if absent.
    func updateCertificateAuthority(
        _ tenantID: TenantID, _ name: CAName,
        _ change: @escaping @Sendable (inout CertificateAuthority) throws -> Void
    ) async throws -> CertificateAuthority
    /// Deletes a CA (its key, CRL and what it issued with it); `ca.not_found` if absent.
    func deleteCertificateAuthority(_ tenantID: TenantID, _ name: CAName) async throws
    /// Keeps `der` as the CA's CRL in force, replacing an earlier one; false, storing nothing, when the stored
    /// one is newer (a larger CRL number, or without numbers a later `thisUpdate`): of several nodes accepting
    /// CRLs, a replayed older one never replaces a newer one another node stored.
    @discardableResult
    func saveRevocationList(_ list: RevocationListState, der: [UInt8]) async throws -> Bool
    /// Every CA's CRL in force, as accepted (read again at start-up).
    func revocationLists() async throws -> [StoredRevocationList]
}

/// A CRL as the store keeps it: the bytes, and where and when they came from.
public struct StoredRevocationList: Sendable {
    public let tenantID: TenantID
    public let authority: CAName
    public let der: [UInt8]
    public let source: String
    public let updatedAt: Date

    public init(tenantID: TenantID, authority: CAName, der: [UInt8], source: String, updatedAt: Date) {
        self.tenantID = tenantID
        self.authority = authority
        self.der = der
        self.source = source
        self.updatedAt = updatedAt
    }
}

/// Issuing CAs' keys and the certificates they signed (issue 15).
public protocol IssuedCertificateStore: Sendable {
    /// Inserts an issuing CA and its private key (sealed at this boundary) in one transaction;
    /// `ca.already_exists` as for any CA.
    func createIssuingAuthority(_ authority: CertificateAuthority, key: IssuingKey) async throws
        -> CertificateAuthority
    /// An issuing CA's private key (or its label in a token); `ca.not_issuing` when Warden holds none for it.
    func issuingKey(_ tenantID: TenantID, _ name: CAName) async throws -> IssuingKey
    /// Records a certificate a CA signed.
    func addIssuedCertificate(_ certificate: IssuedCertificate) async throws
    /// One certificate by its serial, or nil.
    func issuedCertificate(_ tenantID: TenantID, serial: String) async throws -> IssuedCertificate?
    /// A tenant's certificates matching `filter` at `now`, in serial order.
    func issuedCertificates(
        _ tenantID: TenantID, filter: IssuedCertificateFilter, now: Date, after cursor: String?, limit: Int
    ) async throws -> Page<IssuedCertificate>
    /// Marks a certificate revoked; `certificate.not_found`, or `certificate.already_revoked`.
    func revokeCertificate(_ tenantID: TenantID, serial: String, _ revocation: IssuedCertificate.Revocation)
        async throws -> IssuedCertificate
    /// Every revoked certificate of every tenant that has not expired by `now`: the set connections are
    /// checked against, and what a CRL lists.
    func revokedCertificates(notExpiredAt now: Date) async throws -> [IssuedCertificate]
    /// How many certificates of every tenant are valid at `now`, and how many of those expire before `soon`.
    func countValidCertificates(now: Date, expiringBefore soon: Date) async throws -> (valid: Int, expiring: Int)
}

/// Zero-touch provisioning (issue 15): ID scopes, enrollments (keys sealed at this boundary), registrations.
public protocol ProvisioningStore: Sendable {
    /// The tenant's ID scope, assigning `candidate` when it has none yet.
    func idScope(_ tenantID: TenantID, orAssign candidate: String) async throws -> String
    /// The tenant an ID scope belongs to, or nil.
    func tenant(forScope idScope: String) async throws -> TenantID?
    /// Inserts an enrollment; `enrollment.already_exists`.
    func createEnrollment(_ enrollment: Enrollment) async throws -> Enrollment
    func enrollment(_ tenantID: TenantID, _ kind: Enrollment.Kind) async throws -> Enrollment?
    /// A tenant's enrollments, groups first.
    func enrollments(_ tenantID: TenantID) async throws -> [Enrollment]
    /// Reads, changes and writes one enrollment in a transaction; `enrollment.not_found`.
    func updateEnrollment(
        _ tenantID: TenantID, _ kind: Enrollment.Kind, _ change: @escaping @Sendable (inout Enrollment) throws -> Void
    ) async throws -> Enrollment
    func deleteEnrollment(_ tenantID: TenantID, _ kind: Enrollment.Kind) async throws
    /// Where the registration id registered through the tenant's ID scope was last assigned, if it was.
    func registration(_ tenantID: TenantID, registrationID: DeviceID) async throws -> Registration?
    /// Records that `registrationID` (registered through `tenantID`'s ID scope) was assigned as `deviceID` in
    /// `assignedTenant`; returns when it first registered.
    func recordRegistration(
        _ tenantID: TenantID, registrationID: DeviceID, enrollment: String, assignedTenant: TenantID,
        deviceID: DeviceID, at: Date
    ) async throws -> Date
    /// Keeps a registration's operation for status polls from any node until it expires; deletes those expired
    /// before `now` (Unix milliseconds).
    func putProvisioningOperation(_ operation: StoredProvisioningOperation, now: Int64) async throws
    /// The operation `id`, nil when there is none or it expired before `now`.
    func provisioningOperation(_ id: String, now: Int64) async throws -> StoredProvisioningOperation?
}

/// A DPS registration's operation as the store keeps it: who registered, and the answer to its status polls.
public struct StoredProvisioningOperation: Sendable, Equatable {
    public let id: String
    public let tenantID: TenantID
    public let registrationID: DeviceID
    /// The enrollment's reference (`Enrollment.Kind.reference`).
    public let enrollment: String
    public let body: [UInt8]
    /// Unix milliseconds.
    public let expiresAt: Int64

    public init(
        id: String, tenantID: TenantID, registrationID: DeviceID, enrollment: String, body: [UInt8], expiresAt: Int64
    ) {
        self.id = id
        self.tenantID = tenantID
        self.registrationID = registrationID
        self.enrollment = enrollment
        self.body = body
        self.expiresAt = expiresAt
    }
}

/// What is sealed under the master key, seen whole: keys Warden makes for itself, and every sealed value
/// re-sealed when the master key is rotated.
public protocol SealedSecretStore: Sendable {
    /// The data key named `name`, storing `initial` (sealed) when there is none yet.
    func dataKey(_ name: String, orStore initial: SecretBytes) async throws -> SecretBytes
    /// Seals every sealed value that is not under the sealer's key in use again under it, in batches of
    /// transactions; returns how many values each table had re-sealed, and as `unreadable.{table}` how many
    /// opened under no key and were left as they were.
    func resealSecrets() async throws -> [String: Int]
}

/// The Defender's state (issue 16): bans and alerts.
public protocol DefenderStore: Sendable {
    func addBan(_ ban: Ban) async throws
    /// Adds `ban` unless a ban of its subject is in force at its creation (another node's rule put one in force a
    /// moment before); whether it was added.
    func addBanUnlessInForce(_ ban: Ban) async throws -> Bool
    /// Removes and returns a ban; `ban.not_found`.
    func removeBan(_ id: String) async throws -> Ban
    func bans() async throws -> [Ban]
    /// Removes and returns the bans whose expiry is at or before `now`.
    func removeBans(expiredBefore now: Date) async throws -> [Ban]
    /// Acknowledges or resolves the alert `id` unless it is resolved (a resolved alert stays as it is), touching
    /// nothing else of it (a node raising it meanwhile counts on); nil when there is no such alert not resolved.
    func changeAlertStatus(_ id: String, to status: Alert.Status, by author: String, at date: Date) async throws
        -> Alert?
    /// The newest alerts first, of one status or all, of one tenant or all.
    func alerts(status: Alert.Status?, tenantID: TenantID?, limit: Int) async throws -> [Alert]
    func alert(_ id: String) async throws -> Alert?
    /// Inserts `alert` (its count 1) or, while its rule's alert on its subject is not resolved, counts that one
    /// again (count + 1, summary, last seen) in the same statement, so that nodes raising at once make one alert;
    /// returns the alert as stored.
    func raiseAlert(_ alert: Alert) async throws -> Alert
    /// How many alerts are in `status`.
    func countAlerts(status: Alert.Status) async throws -> Int
    /// Quarantines a device, or changes its level; `device.not_found`.
    func saveQuarantine(_ quarantine: Quarantine) async throws
    /// Releases a device; nil when it was not quarantined.
    func removeQuarantine(_ tenantID: TenantID, _ deviceID: DeviceID) async throws -> Quarantine?
    /// Every quarantined device, of every tenant.
    func quarantines() async throws -> [Quarantine]
    /// Replaces a tenant's rules document (nil removes it); `tenant.not_found`.
    func saveDefenderRules(_ document: String?, for tenantID: TenantID) async throws
    /// Every tenant's rules document.
    func defenderRules() async throws -> [(tenantID: TenantID, text: String)]
    /// Keeps each device's newest connection (the inventory's); devices deleted meanwhile are skipped.
    func saveSightings(_ connections: [DeviceConnection]) async throws
    /// Keeps an audit report (its JSON), and only the newest `keeping` of them.
    func saveAuditReport(id: String, finishedAt: Date, json: String, keeping: Int) async throws
    /// The newest audit report's JSON, if any ran.
    func latestAuditReport() async throws -> String?
    /// The audit log's security activity of `tenantID` (nil: every tenant) since `since`, counted per bucket of
    /// `bucketSeconds`, oldest first, every bucket present; and when the last backup was made.
    func securityActivity(of tenantID: TenantID?, since: Date, bucketSeconds: Int) async throws -> SecurityActivity
    /// The last connections of these devices of the tenant (at most 1,000 named at once).
    func sightings(of deviceIDs: [DeviceID], in tenantID: TenantID) async throws -> [DeviceConnection]
}
