public import WardenCore

/// A topic of Azure IoT Hub's MQTT device protocol (anchors.md §1.3), read in one place and written in one
/// place. A topic outside the dialect is not an `AzureTopic`: it is plain MQTT under the topic policy.
///
/// Reading follows the SDKs' loose habits: twin and method topics are known by their prefix, the `$rid` and
/// `$version` come from the query after the first `?`, and a missing `$rid` is the empty one.
public enum AzureTopic: Sendable, Hashable {
    /// Device to cloud, `devices/{id}/messages/events/{bag}` (also `…/events` and `…/events/`). The bag stays
    /// text: whoever stores the message parses it, and a bad bag refuses that message only.
    case telemetry(DeviceID, propertyBag: String)
    /// Cloud to device, `devices/{id}/messages/devicebound/{bag}`.
    case cloudToDevice(DeviceID, propertyBag: String)
    /// The device reads its twin: `$iothub/twin/GET/?$rid={rid}`.
    case twinGet(requestID: String)
    /// The device patches its reported properties: `$iothub/twin/PATCH/properties/reported/?$rid={rid}`.
    case twinReportedPatch(requestID: String)
    /// The hub answers a twin request: `$iothub/twin/res/{status}/?$rid={rid}[&$version={version}]`.
    case twinResponse(status: Int, requestID: String, version: Int?)
    /// The hub passes on a desired-properties patch: `$iothub/twin/PATCH/properties/desired/?$version={v}`.
    case twinDesiredPatch(version: Int)
    /// The hub invokes a direct method: `$iothub/methods/POST/{name}/?$rid={rid}`.
    case methodRequest(name: String, requestID: String)
    /// The device answers a method: `$iothub/methods/res/{status}/?$rid={rid}`; nil when the status level is
    /// not a number.
    case methodResponse(status: Int?, requestID: String)
    /// Warden's delivery feedback for services, `$iothub/feedback/{deviceId}` (IoT Hub sends it over AMQP).
    case feedback(DeviceID)

    /// The prefix of every hub topic; a device's PUBLISH there that is not a device-to-hub topic is refused.
    public static let hubPrefix = "$iothub/"
    /// What services subscribe to for delivery feedback.
    public static let feedbackPrefix = "$iothub/feedback/"
    /// The filters the Azure SDKs subscribe to: twin responses, desired-property patches, method requests.
    public static let deviceFilters: Set<String> = [
        "$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/#", "$iothub/methods/POST/#",
    ]

    /// The namespace of a device's own topics, `devices/{id}/`.
    public static func namespace(of deviceID: DeviceID) -> String { "devices/\(deviceID.rawValue)/" }

    static let twinGetPrefix = "$iothub/twin/GET/"
    static let reportedPrefix = "$iothub/twin/PATCH/properties/reported/"
    public static let desiredPrefix = "$iothub/twin/PATCH/properties/desired/"
    public static let twinResponsePrefix = "$iothub/twin/res/"
    public static let methodRequestPrefix = "$iothub/methods/POST/"
    static let methodResponsePrefix = "$iothub/methods/res/"

    /// Reads `topic`; nil when it is not one of the dialect's. Read as UTF-8 bytes, as MQTT compares topics
    /// (and as `HubFeature` classes them): it runs for every PUBLISH a device sends, and String's Character
    /// comparisons cost several times more.
    public init?(_ topic: String) {
        let bytes = Substring(topic).utf8
        if bytes.starts(with: "devices/".utf8) {
            guard let parsed = Self.deviceTopic(bytes.dropFirst("devices/".utf8.count)) else { return nil }
            self = parsed
        } else if bytes.starts(with: Self.hubPrefix.utf8) {
            guard let parsed = Self.hubTopic(bytes) else { return nil }
            self = parsed
        } else {
            return nil
        }
    }

    /// Whether this is a device's request to the hub on `$iothub/…`: a twin GET, a reported-properties patch,
    /// a method's answer.
    public var isDeviceRequest: Bool {
        switch self {
        case .twinGet, .twinReportedPatch, .methodResponse: true
        case .telemetry, .cloudToDevice, .twinResponse, .twinDesiredPatch, .methodRequest, .feedback: false
        }
    }

    /// The topic's text.
    public var name: String {
        switch self {
        case .telemetry(let deviceID, let bag): "devices/\(deviceID.rawValue)/messages/events/\(bag)"
        case .cloudToDevice(let deviceID, let bag): "devices/\(deviceID.rawValue)/messages/devicebound/\(bag)"
        case .twinGet(let requestID): "\(Self.twinGetPrefix)?$rid=\(requestID)"
        case .twinReportedPatch(let requestID): "\(Self.reportedPrefix)?$rid=\(requestID)"
        case .twinResponse(let status, let requestID, let version):
            "\(Self.twinResponsePrefix)\(status)/?$rid=\(requestID)" + (version.map { "&$version=\($0)" } ?? "")
        case .twinDesiredPatch(let version): "\(Self.desiredPrefix)?$version=\(version)"
        case .methodRequest(let name, let requestID): "\(Self.methodRequestPrefix)\(name)/?$rid=\(requestID)"
        case .methodResponse(let status, let requestID):
            "\(Self.methodResponsePrefix)\(status.map(String.init) ?? "")/?$rid=\(requestID)"
        case .feedback(let deviceID): "\(Self.feedbackPrefix)\(deviceID.rawValue)"
        }
    }

    /// `{id}/messages/events…` or `{id}/messages/devicebound…`, after `devices/`.
    private static func deviceTopic(_ rest: Substring.UTF8View) -> AzureTopic? {
        guard let slash = rest.firstIndex(of: UInt8(ascii: "/")),
            let deviceID = try? DeviceID(String(Substring(rest[..<slash])))
        else {
            return nil
        }
        let path = rest[rest.index(after: slash)...]
        if let bag = bag(of: path, after: "messages/events") { return .telemetry(deviceID, propertyBag: bag) }
        if let bag = bag(of: path, after: "messages/devicebound") {
            return .cloudToDevice(deviceID, propertyBag: bag)
        }
        return nil
    }

    /// What follows `prefix` and a `/` (empty when nothing, or nothing but the `/`, follows); nil when `path`
    /// is not `prefix` or `prefix/…`.
    private static func bag(of path: Substring.UTF8View, after prefix: String) -> String? {
        guard path.starts(with: prefix.utf8) else { return nil }
        let rest = path.dropFirst(prefix.utf8.count)
        if rest.isEmpty { return "" }
        guard rest.first == UInt8(ascii: "/") else { return nil }
        return String(Substring(rest.dropFirst()))
    }

    private static func hubTopic(_ topic: Substring.UTF8View) -> AzureTopic? {
        let requestID = query(topic, "$rid").map(String.init) ?? ""
        if topic.starts(with: twinGetPrefix.utf8) { return .twinGet(requestID: requestID) }
        if topic.starts(with: reportedPrefix.utf8) { return .twinReportedPatch(requestID: requestID) }
        if topic.starts(with: desiredPrefix.utf8) {
            // total: parses text: nil unless a number in range.
            return query(topic, "$version").flatMap { Int($0) }.map { .twinDesiredPatch(version: $0) }
        }
        if topic.starts(with: twinResponsePrefix.utf8) {
            // total: parses text: nil unless a number in range.
            guard let status = Int(firstLevel(topic, after: twinResponsePrefix)) else { return nil }
            // total: parses text: nil unless a number in range.
            let version = query(topic, "$version").flatMap { Int($0) }
            return .twinResponse(status: status, requestID: requestID, version: version)
        }
        if topic.starts(with: methodRequestPrefix.utf8) {
            let name = firstLevel(topic, after: methodRequestPrefix)
            guard !name.isEmpty else { return nil }
            return .methodRequest(name: String(name), requestID: requestID)
        }
        if topic.starts(with: methodResponsePrefix.utf8) {
            // total: parses text: nil unless a number in range.
            let status = Int(firstLevel(topic, after: methodResponsePrefix))
            return .methodResponse(status: status, requestID: requestID)
        }
        if topic.starts(with: feedbackPrefix.utf8) {
            let deviceID = Substring(topic.dropFirst(feedbackPrefix.utf8.count))
            return (try? DeviceID(String(deviceID))).map { .feedback($0) }
        }
        return nil
    }

    /// The level right after `prefix`, up to the next `/` or `?`.
    private static func firstLevel(_ topic: Substring.UTF8View, after prefix: String) -> Substring {
        let rest = topic.dropFirst(prefix.utf8.count)
        let end = rest.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? rest.endIndex
        return Substring(rest[..<end])
    }

    /// The value of `key` in the query after the first `?` (`…/?$rid=42&$version=3`).
    private static func query(_ topic: Substring.UTF8View, _ key: String) -> Substring? {
        guard let mark = topic.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        for item in topic[topic.index(after: mark)...].split(separator: UInt8(ascii: "&")) {
            let parts = item.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count == 2, parts[0].elementsEqual(key.utf8) { return Substring(parts[1]) }
        }
        return nil
    }
}
