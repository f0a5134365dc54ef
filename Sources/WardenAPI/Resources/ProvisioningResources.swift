public import Foundation
public import WardenCore

/// A tenant's provisioning endpoint: what a device needs besides its enrollment's key.
public struct ProvisioningResource: Codable, Sendable {
    public let idScope: String
    /// The host devices give the SDK as `provisioning_host` (it dials port 8883, or 443 over WebSocket).
    public let endpoint: String
}

/// An enrollment group or an individual enrollment.
public struct EnrollmentResource: Codable, Sendable {
    /// The group's name, for a group.
    public let name: String?
    /// The registration id, for an individual enrollment.
    public let registrationId: String?
    public let deviceId: String?
    public let attestation: String
    /// DPS's `provisioningStatus`.
    public let provisioningStatus: String
    /// The desired properties a provisioned device's twin starts with.
    public let initialTwin: InitialTwin?
    public let createdAt: Date
    public let updatedAt: Date
    /// The symmetric keys, only to callers that manage credentials.
    public let symmetricKey: KeysResource?
    /// An X.509 group's tenant CA.
    public let certificateAuthority: String?
    /// An X.509 individual enrollment's certificate thumbprints.
    public let thumbprints: Thumbprints?
    /// The tenants registrations are assigned to (DPS's linked hubs); absent: this one.
    public let tenants: [String]?
    /// `static`, `hashed` or `custom` (DPS's `allocationPolicy`).
    public let allocationPolicy: String
    /// The custom allocation webhook, only to callers that manage credentials (its URL may carry a key).
    public let customAllocationDefinition: CustomAllocation?
    /// `migrate`, `reset` or `never`: what a device that registers again gets.
    public let reprovisionPolicy: String

    public struct CustomAllocation: Codable, Sendable {
        public let webhookUrl: String
    }

    public struct Thumbprints: Codable, Sendable {
        public let primary: String
        public let secondary: String?
    }

    public struct InitialTwin: Codable, Sendable {
        public let desired: JSONValue
    }

    init(_ enrollment: Enrollment, includeKeys: Bool) {
        switch enrollment.kind {
        case .group(let name): (self.name, self.registrationId) = (name.rawValue, nil)
        case .individual(let id): (self.name, self.registrationId) = (nil, id.rawValue)
        }
        self.deviceId = enrollment.deviceID?.rawValue
        self.attestation = enrollment.attestation.type
        self.provisioningStatus = enrollment.isEnabled ? "enabled" : "disabled"
        self.initialTwin = enrollment.initialDesired.map { InitialTwin(desired: $0) }
        self.createdAt = enrollment.createdAt
        self.updatedAt = enrollment.updatedAt
        self.symmetricKey = includeKeys ? enrollment.attestation.keys.map(KeysResource.init) : nil
        self.tenants = enrollment.tenants.isEmpty ? nil : enrollment.tenants.map(\.rawValue)
        self.allocationPolicy = enrollment.allocation.name
        if case .custom(let webhook) = enrollment.allocation, includeKeys {
            self.customAllocationDefinition = CustomAllocation(webhookUrl: webhook)
        } else {
            self.customAllocationDefinition = nil
        }
        self.reprovisionPolicy = enrollment.reprovisioning.rawValue
        switch enrollment.attestation {
        case .symmetricKey: (self.certificateAuthority, self.thumbprints) = (nil, nil)
        case .certificateAuthority(let name): (self.certificateAuthority, self.thumbprints) = (name.rawValue, nil)
        case .thumbprints(let primary, let secondary):
            self.certificateAuthority = nil
            self.thumbprints = Thumbprints(primary: primary.rawValue, secondary: secondary?.rawValue)
        }
    }
}

/// `POST …/provisioning/groups` and `POST …/provisioning/enrollments`.
struct CreateEnrollmentRequest: APIRequestBody {
    static let fields: Set<String> = [
        "name", "registrationId", "deviceId", "attestation", "provisioningStatus", "initialTwin",
        "certificateAuthority", "thumbprints", "tenants", "allocationPolicy", "customAllocationDefinition",
        "reprovisionPolicy",
    ]
    let name: String?
    let registrationId: String?
    let deviceId: DeviceID?
    let attestation: String?
    let provisioningStatus: String?
    let initialTwin: EnrollmentResource.InitialTwin?
    let certificateAuthority: CAName?
    let thumbprints: EnrollmentResource.Thumbprints?
    let tenants: [TenantID]?
    let allocationPolicy: String?
    let customAllocationDefinition: EnrollmentResource.CustomAllocation?
    let reprovisionPolicy: String?

    var assignment: EnrollmentAssignment {
        get throws {
            try EnrollmentAssignmentFields(
                tenants: tenants, allocationPolicy: allocationPolicy,
                customAllocationDefinition: customAllocationDefinition, reprovisionPolicy: reprovisionPolicy
            ).merged(into: EnrollmentAssignment())
        }
    }

    var isEnabled: Bool {
        get throws {
            switch provisioningStatus ?? "enabled" {
            case "enabled": return true
            case "disabled": return false
            default: throw WardenError(.requestInvalidField, "'provisioningStatus' is enabled or disabled.")
            }
        }
    }

    /// The attestation asked for: symmetric keys (made by the hub), or X.509 by CA (a group) or thumbprints.
    func attestationChoice() throws -> Enrollment.Attestation? {
        switch attestation ?? "symmetric-key" {
        case "symmetric-key":
            guard certificateAuthority == nil, thumbprints == nil else {
                throw WardenError(.requestInvalidField, "'certificateAuthority' and 'thumbprints' are for x509.")
            }
            return nil
        case "x509":
            if let certificateAuthority, thumbprints == nil { return .certificateAuthority(certificateAuthority) }
            if let thumbprints, certificateAuthority == nil {
                return .thumbprints(
                    primary: try Thumbprint(thumbprints.primary),
                    secondary: try thumbprints.secondary.map { try Thumbprint($0) })
            }
            throw WardenError(
                .requestInvalidField, "An x509 enrollment names 'certificateAuthority' (a group) or 'thumbprints'.")
        default:
            throw WardenError(.requestInvalidField, "'attestation' is symmetric-key or x509.")
        }
    }
}

/// `PATCH …/provisioning/groups/{group}` and `…/enrollments/{registration}`: what is given changes.
struct UpdateEnrollmentRequest: APIRequestBody {
    static let fields: Set<String> = [
        "provisioningStatus", "initialTwin", "tenants", "allocationPolicy", "customAllocationDefinition",
        "reprovisionPolicy",
    ]
    let provisioningStatus: String?
    let initialTwin: EnrollmentResource.InitialTwin?
    let tenants: [TenantID]?
    let allocationPolicy: String?
    let customAllocationDefinition: EnrollmentResource.CustomAllocation?
    let reprovisionPolicy: String?

    var isEnabled: Bool? {
        get throws {
            switch provisioningStatus {
            case nil: return nil
            case "enabled": return true
            case "disabled": return false
            default: throw WardenError(.requestInvalidField, "'provisioningStatus' is enabled or disabled.")
            }
        }
    }

    var assignmentFields: EnrollmentAssignmentFields {
        EnrollmentAssignmentFields(
            tenants: tenants, allocationPolicy: allocationPolicy,
            customAllocationDefinition: customAllocationDefinition, reprovisionPolicy: reprovisionPolicy)
    }
}

/// The assignment fields of a create or a change, each optional.
struct EnrollmentAssignmentFields {
    let tenants: [TenantID]?
    let allocationPolicy: String?
    let customAllocationDefinition: EnrollmentResource.CustomAllocation?
    let reprovisionPolicy: String?

    var isEmpty: Bool {
        tenants == nil && allocationPolicy == nil && customAllocationDefinition == nil && reprovisionPolicy == nil
    }

    /// `current` with the given fields in place; a webhook goes with `custom` and only with it.
    func merged(into current: EnrollmentAssignment) throws -> EnrollmentAssignment {
        var assignment = current
        if let tenants { assignment.tenants = tenants }
        if let reprovisionPolicy {
            guard let policy = Enrollment.Reprovisioning(rawValue: reprovisionPolicy) else {
                throw WardenError(.requestInvalidField, "'reprovisionPolicy' is migrate, reset or never.")
            }
            assignment.reprovisioning = policy
        }
        let webhook = customAllocationDefinition?.webhookUrl
        switch allocationPolicy ?? (webhook == nil ? nil : "custom") {
        case nil:
            break
        case "static": assignment.allocation = .static
        case "hashed": assignment.allocation = .hashed
        case "custom":
            guard let url = webhook ?? { if case .custom(let url) = current.allocation { url } else { nil } }() else {
                throw WardenError(.requestInvalidField, "A custom allocation needs 'customAllocationDefinition'.")
            }
            assignment.allocation = .custom(webhook: url)
        default:
            throw WardenError(.requestInvalidField, "'allocationPolicy' is static, hashed or custom.")
        }
        if webhook != nil, assignment.allocation.name != "custom" {
            throw WardenError(.requestInvalidField, "'customAllocationDefinition' goes with allocationPolicy custom.")
        }
        return assignment
    }
}

extension Enrollment {
    /// Its assignment settings, for a change to merge into.
    public var assignment: EnrollmentAssignment {
        EnrollmentAssignment(tenants: tenants, allocation: allocation, reprovisioning: reprovisioning)
    }
}
