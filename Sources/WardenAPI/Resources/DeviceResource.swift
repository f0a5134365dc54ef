public import Foundation
import WardenCore
import WardenHub

/// A device as the API shows it; keys appear only where `includeKeys` is set (create, rotate, `keys`), its
/// connection where it was asked of every node (reads).
public struct DeviceResource: Codable, Sendable {
    public struct Authentication: Codable, Sendable {
        public let type: String
        public let primaryThumbprint: String?
        public let secondaryThumbprint: String?
        public let symmetricKey: KeysResource?
    }

    public let tenantID: String
    public let deviceID: String
    public let generationID: String
    public let etag: String
    public let status: String
    public let statusReason: String?
    public let statusUpdatedAt: Date
    public let authentication: Authentication
    public let attributes: [String: String]
    public let createdAt: Date
    public let updatedAt: Date
    /// `connected` or `disconnected`, on whichever node.
    public let connectionState: String?
    /// When it last connected or disconnected, as far as the nodes remember (since each started).
    public let lastActivityAt: Date?

    enum CodingKeys: String, CodingKey {
        case tenantID = "tenantId", deviceID = "deviceId", generationID = "generationId", etag, status, statusReason
        case statusUpdatedAt, authentication, attributes, createdAt, updatedAt, connectionState, lastActivityAt
    }

    init(_ device: Device, includeKeys: Bool, presence: Presence? = nil) {
        self.tenantID = device.tenantID.rawValue
        self.deviceID = device.id.rawValue
        self.generationID = device.generationID
        self.etag = device.etag
        self.status = device.status.rawValue
        self.statusReason = device.statusReason
        self.statusUpdatedAt = device.statusUpdatedAt
        self.attributes = device.attributes
        self.createdAt = device.createdAt
        self.updatedAt = device.updatedAt
        self.connectionState = presence.map { $0.connected.contains(device.id.rawValue) ? "connected" : "disconnected" }
        self.lastActivityAt = presence?.lastActivity[device.id.rawValue].map(Date.init(unixMilliseconds:))
        switch device.authentication {
        case .sas(let keys):
            self.authentication = Authentication(
                type: "sas", primaryThumbprint: nil, secondaryThumbprint: nil,
                symmetricKey: includeKeys ? KeysResource(keys) : nil)
        case .x509Thumbprint(let primary, let secondary):
            self.authentication = Authentication(
                type: "x509-thumbprint", primaryThumbprint: primary.rawValue, secondaryThumbprint: secondary?.rawValue,
                symmetricKey: nil)
        case .x509CA:
            self.authentication = Authentication(
                type: "x509-ca", primaryThumbprint: nil, secondaryThumbprint: nil, symmetricKey: nil)
        }
    }
}

/// A primary and secondary key in base64, shown only to callers allowed to manage credentials.
public struct KeysResource: Codable, Sendable {
    public let primaryKey: String
    public let secondaryKey: String

    init(_ keys: SASKeyPair) {
        self.primaryKey = keys.primary.base64
        self.secondaryKey = keys.secondary.base64
    }
}

/// `POST /tenants/{tenant}/devices`.
struct CreateDeviceRequest: APIRequestBody {
    static let fields: Set<String> = [
        "deviceId", "authentication", "primaryThumbprint", "secondaryThumbprint", "status", "statusReason",
        "attributes",
    ]
    let deviceID: DeviceID
    let authentication: Device.AuthenticationType?
    let primaryThumbprint: Thumbprint?
    let secondaryThumbprint: Thumbprint?
    let status: Device.Status?
    let statusReason: String?
    let attributes: [String: String]?

    enum CodingKeys: String, CodingKey {
        case deviceID = "deviceId", authentication, primaryThumbprint, secondaryThumbprint, status, statusReason
        case attributes
    }
}

/// `PATCH /tenants/{tenant}/devices/{device}`: absent fields stay; `statusReason: null` clears the reason.
struct UpdateDeviceRequest: APIRequestBody {
    static let fields: Set<String> = [
        "status", "statusReason", "attributes", "primaryThumbprint", "secondaryThumbprint",
    ]
    let status: Device.Status?
    let statusReason: String??
    let attributes: [String: String]?
    let primaryThumbprint: Thumbprint?
    let secondaryThumbprint: Thumbprint??

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.status = try container.decodeIfPresent(Device.Status.self, forKey: .status)
        self.statusReason =
            container.contains(.statusReason)
            ? .some(try container.decodeIfPresent(String.self, forKey: .statusReason)) : nil
        self.attributes = try container.decodeIfPresent([String: String].self, forKey: .attributes)
        self.primaryThumbprint = try container.decodeIfPresent(Thumbprint.self, forKey: .primaryThumbprint)
        self.secondaryThumbprint =
            container.contains(.secondaryThumbprint)
            ? .some(try container.decodeIfPresent(Thumbprint.self, forKey: .secondaryThumbprint)) : nil
    }

    enum CodingKeys: String, CodingKey {
        case status, statusReason, attributes, primaryThumbprint, secondaryThumbprint
    }
}
