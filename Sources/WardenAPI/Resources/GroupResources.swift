public import Foundation
import WardenCore

/// A device group as the API shows it.
public struct GroupResource: Codable, Sendable {
    public let name: String
    public let description: String
    public let members: [String]
    public let createdAt: Date

    init(_ group: DeviceGroup) {
        self.name = group.name.rawValue
        self.description = group.description
        self.members = group.members.map(\.rawValue).sorted()
        self.createdAt = group.createdAt
    }
}

/// `POST /tenants/{tenant}/groups`.
struct CreateGroupRequest: APIRequestBody {
    static let fields: Set<String> = ["name", "description", "members"]
    let name: GroupName
    let description: String?
    let members: [DeviceID]?
}
