public import WardenCore

/// The MQTT username of Azure's device dialect: `{host}/{deviceId}/?api-version=…[&…]`, the legacy
/// `{host}/{deviceId}/api-version=…`, or `{host}/{deviceId}` (anchors.md §1.3, §1.11 item 1).
///
/// Only the path matters; the query (api-version, DeviceClientType, model-id, anything else) is ignored.
/// Module identities (`{host}/{deviceId}/{moduleId}/…`) are not supported and do not parse.
public struct AzureUsername: Sendable, Hashable {
    public let hostName: String
    public let deviceID: DeviceID
    /// Azure's rules when the username carries an `api-version` (as every Azure SDK's does), else plain MQTT.
    public let dialect: DeviceDialect

    public init?(_ username: String) {
        var path = Substring(username)
        var dialect = DeviceDialect.plain
        if let query = path.firstRange(of: "/?") {
            if path[query.upperBound...].split(separator: "&").contains(where: { $0.hasPrefix("api-version=") }) {
                dialect = .azure
            }
            path = path[..<query.lowerBound]
        } else if let legacy = path.firstRange(of: "/api-version=") {
            dialect = .azure
            path = path[..<legacy.lowerBound]
        } else if path.hasSuffix("/") {
            path = path.dropLast()
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 2, !segments[0].isEmpty, let deviceID = try? DeviceID(String(segments[1])) else {
            return nil
        }
        self.hostName = segments[0].lowercased()
        self.deviceID = deviceID
        self.dialect = dialect
    }
}

/// A backend service's MQTT username: `{host}/$service/{policy name}`, optionally followed by `/?…` (ignored).
/// `$` never occurs in a device id, so it cannot be confused with a device's username.
public struct ServiceUsername: Sendable, Hashable {
    public let hostName: String
    public let policyName: PolicyName

    public init?(_ username: String) {
        var path = Substring(username)
        if let query = path.firstRange(of: "/?") { path = path[..<query.lowerBound] }
        if path.hasSuffix("/") { path = path.dropLast() }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 3, !segments[0].isEmpty, segments[1] == "$service",
            let policyName = try? PolicyName(String(segments[2]))
        else { return nil }
        self.hostName = segments[0].lowercased()
        self.policyName = policyName
    }
}

/// An MQTT username in one of the hub's forms, parsed once per CONNECT: a device's or a service's.
public enum HubUsername: Sendable, Hashable {
    case device(AzureUsername)
    case service(ServiceUsername)

    /// nil when `username` is in neither form.
    public init?(_ username: String) {
        if let service = ServiceUsername(username) {
            self = .service(service)
        } else if let device = AzureUsername(username) {
            self = .device(device)
        } else {
            return nil
        }
    }

    /// The host name, which names the tenant.
    public var hostName: String {
        switch self {
        case .device(let device): device.hostName
        case .service(let service): service.hostName
        }
    }
}
