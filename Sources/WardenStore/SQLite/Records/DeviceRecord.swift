import Foundation
import GRDB

/// One row of `devices`.
struct DeviceRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "devices"

    var tenantID: String
    var deviceID: String
    var generationID: String
    var etag: String
    var status: String
    var statusReason: String?
    var statusUpdatedAt: Date
    var authType: String
    var sealedPrimaryKey: Data?
    var sealedSecondaryKey: Data?
    var primaryThumbprint: String?
    var secondaryThumbprint: String?
    var attributesJSON: String
    var createdAt: Date
    var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case tenantID = "tenant_id", deviceID = "device_id", generationID = "generation_id", etag, status
        case statusReason = "status_reason", statusUpdatedAt = "status_updated_at", authType = "auth_type"
        case sealedPrimaryKey = "sealed_primary_key", sealedSecondaryKey = "sealed_secondary_key"
        case primaryThumbprint = "primary_thumbprint", secondaryThumbprint = "secondary_thumbprint"
        case attributesJSON = "attributes_json", createdAt = "created_at", updatedAt = "updated_at"
    }

    enum Columns {
        static let tenantID = Column("tenant_id")
        static let deviceID = Column("device_id")
    }
}
