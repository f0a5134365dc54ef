public import Foundation

/// The name of an enrollment group within a tenant: 1 to 128 ASCII letters, digits and `- . _`.
public typealias EnrollmentGroupName = RuledIdentifier<EnrollmentGroupNameRules>

public enum EnrollmentGroupNameRules: IdentifierKind {
    public static let rules = IdentifierRules(
        "enrollment group name", maximumLength: 128, punctuation: "-._", code: .enrollmentInvalidName)
}

/// Who may provision themselves into a tenant (issue 15, DPS): a group of devices sharing a group key (each
/// device's key is HMAC-SHA256 of its registration id under it, as DPS derives it), or one device with its own
/// key. A registration creates (or updates) the device, enabled, with SAS keys it can use at once.
public struct Enrollment: Sendable {
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
    /// Symmetric-key attestation: the group key pair, or the individual device's key pair.
    public var keys: SASKeyPair
    /// A disabled enrollment provisions nobody (DPS's `provisioningStatus`).
    public var isEnabled: Bool
    /// The desired properties a provisioned device's twin starts with (a JSON object), if any.
    public var initialDesired: JSONValue?
    /// An individual enrollment's device id when it differs from the registration id.
    public var deviceID: DeviceID?
    public let createdAt: Date
    public var updatedAt: Date

    public init(
        tenantID: TenantID, kind: Kind, keys: SASKeyPair, isEnabled: Bool = true, initialDesired: JSONValue? = nil,
        deviceID: DeviceID? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.tenantID = tenantID
        self.kind = kind
        self.keys = keys
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
