import WardenCore

/// What a link's address names (protocols.md §2.3): the claims-based security node, or one of a device's
/// nodes. The C SDK writes absolute URIs (`amqps://{host}/devices/{id}/messages/events`), the C# SDK paths
/// (`/devices/{id}/messages/deviceBound`): the scheme and host are dropped, the fixed words compared without
/// case, and the device id percent-decoded (C# escapes it).
enum AMQPNode: Equatable {
    case claimsBasedSecurity
    /// `devices/{id}/messages/events`: the device sends.
    case telemetry(DeviceID)
    /// `devices/{id}/messages/devicebound`: the device receives its cloud-to-device messages.
    case cloudToDevice(DeviceID)
    /// `devices/{id}/methods/devicebound`: both of a device's method links (calls in, answers out).
    case methods(DeviceID)
    /// `devices/{id}/twin`: both of a device's twin links (requests in, answers and desired patches out).
    case twin(DeviceID)
    /// An address this endpoint does not serve (yet: modules), or no device.
    case unknown

    init(address: String?) {
        guard let address else {
            self = .unknown
            return
        }
        if address == "$cbs" {
            self = .claimsBasedSecurity
            return
        }
        let words = Self.path(of: address)
        guard words.count == 3 || words.count == 4, words[0].lowercased() == "devices",
            let deviceID = try? DeviceID(PercentEncoding.decodePathSegment(String(words[1])))
        else {
            self = .unknown
            return
        }
        guard words.count == 4 else {
            self = words[2].lowercased() == "twin" ? .twin(deviceID) : .unknown
            return
        }
        switch (words[2].lowercased(), words[3].lowercased()) {
        case ("messages", "events"): self = .telemetry(deviceID)
        case ("messages", "devicebound"): self = .cloudToDevice(deviceID)
        case ("methods", "devicebound"): self = .methods(deviceID)
        default: self = .unknown
        }
    }

    /// The device whose node this is.
    var deviceID: DeviceID? {
        switch self {
        case .telemetry(let deviceID), .cloudToDevice(let deviceID), .methods(let deviceID), .twin(let deviceID):
            deviceID
        case .claimsBasedSecurity, .unknown: nil
        }
    }

    /// The path's words, after an `amqps://host[:port]` prefix if there is one.
    static func path(of address: String) -> [Substring] {
        var rest = Substring(address)
        if let scheme = rest.firstRange(of: "://") {
            rest = rest[scheme.upperBound...]
            rest = rest.drop { $0 != "/" }
        }
        return rest.split(separator: "/", omittingEmptySubsequences: true)
    }
}

/// A CBS token's audience (`name` of a put-token): `{host}/devices/{id}`, with or without a scheme; the
/// host names the tenant as the token's own `sr` does.
struct TokenAudience: Equatable {
    let hostName: String
    let deviceID: String

    init(hostName: String, deviceID: String) {
        self.hostName = hostName
        self.deviceID = deviceID
    }

    init?(_ audience: String) {
        var rest = Substring(audience)
        if let scheme = rest.firstRange(of: "://") { rest = rest[scheme.upperBound...] }
        let words = rest.split(separator: "/", omittingEmptySubsequences: true)
        guard words.count == 3, words[1].lowercased() == "devices" else { return nil }
        hostName = String(words[0].split(separator: ":").first ?? words[0])
        deviceID = PercentEncoding.decodePathSegment(String(words[2]))
    }
}
