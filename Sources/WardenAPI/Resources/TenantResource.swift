public import Foundation
import WardenCore

/// A tenant as the API shows it.
public struct TenantResource: Codable, Sendable {
    public let tenantID: String
    public let hostName: String
    public let createdAt: Date

    enum CodingKeys: String, CodingKey {
        case tenantID = "tenantId", hostName, createdAt
    }

    init(_ tenant: Tenant) {
        self.tenantID = tenant.id.rawValue
        self.hostName = tenant.hostName.rawValue
        self.createdAt = tenant.createdAt
    }
}

/// `POST /tenants`.
struct CreateTenantRequest: APIRequestBody {
    static let fields: Set<String> = ["tenantId", "hostName"]
    let tenantID: TenantID
    let hostName: HostName?

    enum CodingKeys: String, CodingKey {
        case tenantID = "tenantId", hostName
    }
}
