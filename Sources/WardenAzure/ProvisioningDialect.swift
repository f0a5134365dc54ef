public import WardenCore

/// The MQTT username of Azure's Device Provisioning Service: `{idScope}/registrations/{registrationId}/
/// api-version=…[&ClientVersion=…]` — no `?` before `api-version`, unlike the hub's (protocols.md §1.1).
public struct ProvisioningUsername: Sendable, Hashable {
    public let idScope: String
    /// The registration id, which becomes the device id; Warden's device id rules apply.
    public let registrationID: DeviceID

    public init?(_ username: String) {
        var path = Substring(username)
        if let query = path.firstRange(of: "/api-version=") {
            path = path[..<query.lowerBound]
        } else if let query = path.firstRange(of: "/?") {
            path = path[..<query.lowerBound]
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 3, segments[1] == "registrations", ProvisioningScope.isValid(segments[0]),
            let registrationID = try? DeviceID(String(segments[2]))
        else { return nil }
        self.idScope = String(segments[0])
        self.registrationID = registrationID
    }

    /// The SAS resource a registration's token signs: `{idScope}/registrations/{registrationId}`.
    public var resource: String { "\(idScope)/registrations/\(registrationID)" }
}

/// An ID scope: `0ne` and 8 upper-case hex digits, as DPS writes them.
public enum ProvisioningScope {
    public static func isValid(_ text: some StringProtocol) -> Bool {
        text.utf8.count == 11 && text.hasPrefix("0ne")
            && text.dropFirst(3).allSatisfy { $0.isHexDigit && ($0.isNumber || $0.isUppercase) }
    }
}

/// What a provisioning client publishes (protocols.md §1.2): a registration, or a poll of its operation.
public enum ProvisioningRequest: Sendable, Hashable {
    case register(requestID: String)
    case operationStatus(requestID: String, operationID: String)

    public static let registerPrefix = "$dps/registrations/PUT/iotdps-register/?"
    public static let statusPrefix = "$dps/registrations/GET/iotdps-get-operationstatus/?"
    /// The one filter a provisioning client subscribes to.
    public static let responseFilter = "$dps/registrations/res/#"

    public init?(topic: String) {
        let query: Substring
        let isRegister: Bool
        if topic.hasPrefix(Self.registerPrefix) {
            (query, isRegister) = (topic.dropFirst(Self.registerPrefix.count), true)
        } else if topic.hasPrefix(Self.statusPrefix) {
            (query, isRegister) = (topic.dropFirst(Self.statusPrefix.count), false)
        } else {
            return nil
        }
        var fields: [Substring: Substring] = [:]
        for pair in query.split(separator: "&") {
            guard let equals = pair.firstIndex(of: "=") else { return nil }
            fields[pair[..<equals]] = pair[pair.index(after: equals)...]
        }
        guard let requestID = fields["$rid"], Self.isToken(requestID) else { return nil }
        if isRegister {
            self = .register(requestID: String(requestID))
        } else {
            guard let operationID = fields["operationId"], Self.isToken(operationID) else { return nil }
            self = .operationStatus(requestID: String(requestID), operationID: String(operationID))
        }
    }

    public var requestID: String {
        switch self {
        case .register(let requestID), .operationStatus(let requestID, _): requestID
        }
    }

    /// The response topic: `$dps/registrations/res/{status}/?$rid={rid}[&retry-after={seconds}]`.
    public static func responseTopic(status: Int, requestID: String, retryAfter: Int?) -> String {
        "$dps/registrations/res/\(status)/?$rid=\(requestID)" + (retryAfter.map { "&retry-after=\($0)" } ?? "")
    }

    /// Request and operation ids are echoed in topics: 1 to 128 bytes, none of MQTT's or the query's
    /// separators.
    private static func isToken(_ text: Substring) -> Bool {
        (1...128).contains(text.utf8.count) && !text.contains { "/+#&=?\u{0}".contains($0) || $0.isWhitespace }
    }
}
