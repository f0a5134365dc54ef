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

extension DeviceRecord {
    /// Reads a `devices` row fetched by either engine.
    init(row: some StoreRow) throws {
        self.init(
            tenantID: try row.value("tenant_id"), deviceID: try row.value("device_id"),
            generationID: try row.value("generation_id"), etag: try row.value("etag"), status: try row.value("status"),
            statusReason: try row.value("status_reason"), statusUpdatedAt: try row.value("status_updated_at"),
            authType: try row.value("auth_type"), sealedPrimaryKey: try row.value("sealed_primary_key"),
            sealedSecondaryKey: try row.value("sealed_secondary_key"),
            primaryThumbprint: try row.value("primary_thumbprint"),
            secondaryThumbprint: try row.value("secondary_thumbprint"),
            attributesJSON: try row.value("attributes_json"),
            createdAt: try row.value("created_at"), updatedAt: try row.value("updated_at"))
    }
}
