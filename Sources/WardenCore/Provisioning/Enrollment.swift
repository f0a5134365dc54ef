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
    public let createdAt: Date
    public var updatedAt: Date

    public init(
        tenantID: TenantID, kind: Kind, attestation: Attestation, isEnabled: Bool = true,
        initialDesired: JSONValue? = nil,
        deviceID: DeviceID? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.tenantID = tenantID
        self.kind = kind
        self.attestation = attestation
        self.isEnabled = isEnabled
        self.initialDesired = initialDesired
        self.deviceID = deviceID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
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
