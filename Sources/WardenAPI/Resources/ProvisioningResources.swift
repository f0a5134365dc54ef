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

    public struct InitialTwin: Codable, Sendable {
        public let desired: JSONValue
    }

    init(_ enrollment: Enrollment, includeKeys: Bool) {
        switch enrollment.kind {
        case .group(let name): (self.name, self.registrationId) = (name.rawValue, nil)
        case .individual(let id): (self.name, self.registrationId) = (nil, id.rawValue)
        }
        self.deviceId = enrollment.deviceID?.rawValue
        self.attestation = "symmetric-key"
        self.provisioningStatus = enrollment.isEnabled ? "enabled" : "disabled"
        self.initialTwin = enrollment.initialDesired.map { InitialTwin(desired: $0) }
        self.createdAt = enrollment.createdAt
        self.updatedAt = enrollment.updatedAt
        self.symmetricKey = includeKeys ? KeysResource(enrollment.keys) : nil
    }
}

/// `POST …/provisioning/groups` and `POST …/provisioning/enrollments`.
struct CreateEnrollmentRequest: APIRequestBody {
    static let fields: Set<String> = [
        "name", "registrationId", "deviceId", "attestation", "provisioningStatus", "initialTwin",
    ]
    let name: String?
    let registrationId: String?
    let deviceId: DeviceID?
    let attestation: String?
    let provisioningStatus: String?
    let initialTwin: EnrollmentResource.InitialTwin?

    var isEnabled: Bool {
        get throws {
            switch provisioningStatus ?? "enabled" {
            case "enabled": return true
            case "disabled": return false
            default: throw WardenError(.requestInvalidField, "'provisioningStatus' is enabled or disabled.")
            }
        }
    }

    func checkAttestation() throws {
        guard (attestation ?? "symmetric-key") == "symmetric-key" else {
            throw WardenError(
                .requestInvalidField, "'attestation' is symmetric-key; X.509 attestation is not supported yet.")
        }
    }
}

/// `PATCH …/provisioning/groups/{group}` and `…/enrollments/{registration}`.
struct UpdateEnrollmentRequest: APIRequestBody {
    static let fields: Set<String> = ["provisioningStatus"]
    let provisioningStatus: String
}
