public import Foundation

/// The name of an enrollment group within a tenant: 1 to 128 ASCII letters, digits and `- . _`.
public typealias EnrollmentGroupName = RuledIdentifier<EnrollmentGroupNameRules>

public enum EnrollmentGroupNameRules: IdentifierKind {
    public static let rules = IdentifierRules(
        "enrollment group name", maximumLength: 128, punctuation: "-._", code: .enrollmentInvalidName)
}

/// Who may provision themselves into a tenant (issue 15, DPS): a group of devices sharing a group key (each
/// device's key is HMAC-SHA256 of its registration id under it, as DPS derives it) or a CA their certificates
/// chain to, or one device with its own key or certificate. A registration creates (or updates) the device,
/// enabled, with credentials it can use at once.
public struct Enrollment: Sendable {
    /// How a registration proves itself.
    public enum Attestation: Sendable {
        /// A SAS token signed with the key pair (a group's: with the key derived for the registration id).
        case symmetricKey(SASKeyPair)
        /// A group's: a client certificate that chains to the tenant's verified CA `name`, with CN = the
        /// registration id. Devices are created as `x509-ca`.
        case certificateAuthority(CAName)
        /// An individual's: a client certificate with one of these thumbprints. The device is created as
        /// `x509-thumbprint` with them.
        case thumbprints(primary: Thumbprint, secondary: Thumbprint?)

        /// `symmetric-key` or `x509`, as DPS names attestation types.
        public var type: String {
            if case .symmetricKey = self { "symmetric-key" } else { "x509" }
        }

        /// The symmetric keys, for a symmetric-key attestation.
        public var keys: SASKeyPair? {
            if case .symmetricKey(let keys) = self { keys } else { nil }
        }
    }

    /// How a registration's tenant is chosen among the enrollment's tenants (DPS's allocation policy over its
    /// linked hubs).
    public enum Allocation: Sendable, Equatable {
        /// The one tenant.
        case `static`
        /// One of the tenants by a hash of the registration id, so each device lands in the same one while the
        /// list stays (DPS's evenly weighted distribution).
        case hashed
        /// The tenant a webhook names in DPS's custom allocation shape (its URL may carry a key: kept sealed).
        case custom(webhook: String)

        /// `static`, `hashed` or `custom`, as DPS names allocation policies.
        public var name: String {
            switch self {
            case .static: "static"
            case .hashed: "hashed"
            case .custom: "custom"
            }
        }
    }

    /// What a registration of a device that registered before does (DPS's reprovision policy).
    public enum Reprovisioning: String, Sendable, CaseIterable {
        /// Assign it again; a device moving to another tenant takes its twin's desired properties along, and
        /// the one it leaves is disabled (DPS's "re-provision and migrate data", the default).
        case migrate
        /// Assign it again, its twin's desired properties back to the enrollment's initial ones (DPS's
        /// "re-provision and reset to initial config").
        case reset
        /// Keep it where it was first assigned (DPS's "never re-provision").
        case never
    }

    public enum Kind: Sendable, Hashable {
        case group(EnrollmentGroupName)
        /// One device, by its registration id.
        case individual(DeviceID)

        /// `group/{name}` or `individual/{registration id}`, for records.
        public var reference: String {
            switch self {
            case .group(let name): "group/\(name)"
            case .individual(let id): "individual/\(id)"
            }
        }
    }

    public let tenantID: TenantID
    public let kind: Kind
    public var attestation: Attestation
    /// A disabled enrollment provisions nobody (DPS's `provisioningStatus`).
    public var isEnabled: Bool
    /// The desired properties a provisioned device's twin starts with (a JSON object), if any.
    public var initialDesired: JSONValue?
    /// An individual enrollment's device id when it differs from the registration id.
    public var deviceID: DeviceID?
    /// The tenants registrations may be assigned to; empty: the enrollment's own.
    public var tenants: [TenantID]
    public var allocation: Allocation
    public var reprovisioning: Reprovisioning
    public let createdAt: Date
    public var updatedAt: Date

    /// The tenants a registration may be assigned to: the named ones, or the enrollment's own.
    public var assignableTenants: [TenantID] { tenants.isEmpty ? [tenantID] : tenants }

    public init(
        tenantID: TenantID, kind: Kind, attestation: Attestation, isEnabled: Bool = true,
        initialDesired: JSONValue? = nil, deviceID: DeviceID? = nil, tenants: [TenantID] = [],
        allocation: Allocation = .static, reprovisioning: Reprovisioning = .migrate, createdAt: Date, updatedAt: Date
    ) {
        self.tenantID = tenantID
        self.kind = kind
        self.attestation = attestation
        self.isEnabled = isEnabled
        self.initialDesired = initialDesired
        self.deviceID = deviceID
        self.tenants = tenants
        self.allocation = allocation
        self.reprovisioning = reprovisioning
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Where an enrollment's registrations go, and what a registration again does.
public struct EnrollmentAssignment: Sendable, Equatable {
    /// Empty: the enrollment's own tenant.
    public var tenants: [TenantID]
    public var allocation: Enrollment.Allocation
    public var reprovisioning: Enrollment.Reprovisioning

    public init(
        tenants: [TenantID] = [], allocation: Enrollment.Allocation = .static,
        reprovisioning: Enrollment.Reprovisioning = .migrate
    ) {
        self.tenants = tenants
        self.allocation = allocation
        self.reprovisioning = reprovisioning
    }
}

extension EnrollmentAssignment {
    /// An enrollment that assigns devices to other tenants creates devices there: `principal` must hold
    /// `registry.write` in each tenant it names besides the enrollment's own.
    public func requireWrite(by principal: Principal, from tenantID: TenantID) throws(WardenError) {
        for other in tenants where other != tenantID && !principal.may(.registryWrite, in: other) {
            throw WardenError(.authForbidden, "Assigning devices to tenant '\(other)' needs registry.write there.")
        }
    }
}

/// Where a registration id was last assigned (a registration of it again follows the reprovision policy).
public struct Registration: Sendable, Equatable {
    public let tenantID: TenantID
    public let deviceID: DeviceID
    public let createdAt: Date

    public init(tenantID: TenantID, deviceID: DeviceID, createdAt: Date) {
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.createdAt = createdAt
    }
}

/// One registration attempt, allowed or refused, for the audit log.
public struct RegistrationRecord: Sendable, Hashable {
    public let tenantID: TenantID?
    public let idScope: String
    public let registrationID: String
    /// The enrollment that matched, when one did.
    public let enrollment: String?
    /// The device it was assigned as, when it was.
    public let deviceID: DeviceID?
    public let peerAddress: IPAddress
    /// Nil when the device was assigned.
    public let failure: WardenError.Code?
    public let reason: String?
    public let referenceID: String
    public let at: Date

    public init(
        tenantID: TenantID?, idScope: String, registrationID: String, enrollment: String?, deviceID: DeviceID?,
        peerAddress: IPAddress, failure: WardenError.Code?, reason: String?, referenceID: String, at: Date
    ) {
        self.tenantID = tenantID
        self.idScope = idScope
        self.registrationID = registrationID
        self.enrollment = enrollment
        self.deviceID = deviceID
        self.peerAddress = peerAddress
        self.failure = failure
        self.reason = reason
        self.referenceID = referenceID
        self.at = at
    }
}
