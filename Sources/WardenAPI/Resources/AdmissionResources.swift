import WardenCore

/// A tenant's access list: devices and groups to allow and to block.
public struct AccessListResource: Codable, Sendable {
    public struct Entries: Codable, Sendable {
        public let devices: [String]
        public let groups: [String]
    }

    public let allow: Entries
    public let block: Entries
    public let etag: String

    init(_ list: AccessList) {
        self.allow = Entries(
            devices: list.allow.devices.map(\.rawValue).sorted(), groups: list.allow.groups.map(\.rawValue).sorted())
        self.block = Entries(
            devices: list.block.devices.map(\.rawValue).sorted(), groups: list.block.groups.map(\.rawValue).sorted())
        self.etag = list.etag
    }
}

/// `PUT /tenants/{tenant}/access-list`.
struct ReplaceAccessListRequest: APIRequestBody {
    struct Entries: Decodable {
        let devices: [DeviceID]?
        let groups: [GroupName]?

        var domain: AccessList.Entries { AccessList.Entries(devices: Set(devices ?? []), groups: Set(groups ?? [])) }
    }

    static let fields: Set<String> = ["allow", "block"]
    let allow: Entries?
    let block: Entries?
}

/// A tenant's IP filter.
public struct IPFilterResource: Codable, Sendable {
    public struct Rule: Codable, Sendable {
        public let name: String
        public let action: String
        public let cidr: String
    }

    public let defaultAction: String
    public let rules: [Rule]
    public let etag: String

    init(_ filter: IPFilter) {
        self.defaultAction = filter.defaultAction.rawValue
        self.rules = filter.rules.map { Rule(name: $0.name, action: $0.action.rawValue, cidr: $0.cidr.description) }
        self.etag = filter.etag
    }
}

/// `PUT /tenants/{tenant}/ip-filter`.
struct ReplaceIPFilterRequest: APIRequestBody {
    static let fields: Set<String> = ["defaultAction", "rules"]
    let defaultAction: IPFilter.Action
    let rules: [IPFilter.Rule]
}

/// A shared access policy; keys only in the response that created it.
public struct PolicyResource: Codable, Sendable {
    public let name: String
    public let permissions: [String]
    public let keys: KeysResource?

    init(_ policy: SharedAccessPolicy, includeKeys: Bool) {
        self.name = policy.name.rawValue
        self.permissions = policy.permissions.map(\.rawValue).sorted()
        self.keys = includeKeys ? KeysResource(policy.keys) : nil
    }
}

/// `POST /tenants/{tenant}/shared-access-policies`.
struct CreatePolicyRequest: APIRequestBody {
    static let fields: Set<String> = ["name", "permissions"]
    let name: PolicyName
    let permissions: [SharedAccessPolicy.Permission]
}
