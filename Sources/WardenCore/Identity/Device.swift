public import Foundation

/// A registered device: identity, status, credentials and static attributes.
public struct Device: Sendable {
    /// The tenant it belongs to.
    public let tenantID: TenantID
    /// Its id, unique within the tenant.
    public let id: DeviceID
    /// Changes when a device is deleted and created again with the same id.
    public let generationID: String
    /// Changes on every update; clients send it back in If-Match.
    public var etag: String
    /// Whether it may connect.
    public var status: Status
    /// Why it has its status (at most 128 characters).
    public var statusReason: String?
    /// When the status last changed.
    public var statusUpdatedAt: Date
    /// How it proves its identity.
    public var authentication: Authentication
    /// Static context for policies (model, firmware, site…).
    public var attributes: [String: String]
    /// When it was created.
    public let createdAt: Date
    /// When it last changed.
    public var updatedAt: Date

    /// Makes a device value.
    public init(
        tenantID: TenantID, id: DeviceID, generationID: String, etag: String, status: Status,
        statusReason: String?, statusUpdatedAt: Date, authentication: Authentication,
        attributes: [String: String], createdAt: Date, updatedAt: Date
    ) {
        self.tenantID = tenantID
        self.id = id
        self.generationID = generationID
        self.etag = etag
        self.status = status
        self.statusReason = statusReason
        self.statusUpdatedAt = statusUpdatedAt
        self.authentication = authentication
        self.attributes = attributes
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
