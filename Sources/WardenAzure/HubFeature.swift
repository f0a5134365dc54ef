/// What a topic or filter of the device dialect carries, read from its literal start alone, so that a topic
/// name and a filter (`devices/+/messages/events/#`) are classed alike. The policy's hub actions
/// (docs/policy.md, "Hub actions") are asked beside MQTT's for these.
public enum HubFeature: Sendable, Hashable {
    /// `devices/{id}/messages/events…`: a device's telemetry.
    case telemetry
    /// `devices/{id}/messages/devicebound…`: cloud-to-device messages.
    case cloudToDevice
    /// `$iothub/twin/GET/…`: a device reads its twin.
    case twinGet
    /// `$iothub/twin/PATCH/properties/reported/…`: a device patches its reported properties.
    case twinReportedPatch
    /// `$iothub/twin/PATCH/properties/desired/…`: desired-property patches passed on to a device.
    case twinDesiredPatch
    /// `$iothub/methods/POST/…`: direct method requests to a device.
    case methodRequest
    /// `$iothub/methods/res/…`: a device's answers to direct methods.
    case methodResponse

    /// The feature `text` belongs to; a shared subscription's `$share/{group}/` is looked through. Nil for plain
    /// MQTT and for the hub's answers (`$iothub/twin/res/…`: the request was decided when it was made).
    public init?(_ text: String) {
        // Asked for every PUBLISH and SUBSCRIBE: plain MQTT topics leave at the first byte, and the rest is
        // compared as UTF-8 bytes (String's `hasPrefix` compares Unicode characters, far slower).
        var rest = Substring(text).utf8
        guard let first = rest.first, first == UInt8(ascii: "$") || first == UInt8(ascii: "d") else { return nil }
        if rest.starts(with: "$share/".utf8) {
            rest = rest.dropFirst("$share/".utf8.count)
            guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { return nil }
            rest = rest[rest.index(after: slash)...]
        }
        if rest.starts(with: "devices/".utf8) {
            let device = rest.dropFirst("devices/".utf8.count)
            let path = device[
                (device.firstIndex(of: UInt8(ascii: "/")).map(device.index(after:)) ?? device.endIndex)...]
            if Self.level(path, starts: "messages/events") {
                self = .telemetry
            } else if Self.level(path, starts: "messages/devicebound") {
                self = .cloudToDevice
            } else {
                return nil
            }
            return
        }
        guard let (_, feature) = Self.hubPrefixes.first(where: { rest.starts(with: $0.prefix.utf8) }) else {
            return nil
        }
        self = feature
    }

    private static let hubPrefixes: [(prefix: String, feature: HubFeature)] = [
        (AzureTopic.twinGetPrefix, .twinGet), (AzureTopic.reportedPrefix, .twinReportedPatch),
        (AzureTopic.desiredPrefix, .twinDesiredPatch), (AzureTopic.methodRequestPrefix, .methodRequest),
        (AzureTopic.methodResponsePrefix, .methodResponse),
    ]

    /// Whether `path` is `levels` or continues it with `/`.
    private static func level(_ path: Substring.UTF8View, starts levels: String) -> Bool {
        guard path.starts(with: levels.utf8) else { return false }
        let after = path.dropFirst(levels.utf8.count)
        return after.isEmpty || after.first == UInt8(ascii: "/")
    }
}
