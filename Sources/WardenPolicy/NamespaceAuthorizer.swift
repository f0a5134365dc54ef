public import WardenCore

/// The default authorization until the policy engine (issue 3, "Authorization").
///
/// A device publishes and subscribes only in its own namespace, `devices/{its id}/…`, and on the `$iothub/…`
/// topics of its own connection (anchors.md §1.3). The namespace comes from the authenticated identity only;
/// a ClientId or topic the client chose cannot widen it. Wildcards may appear only below `devices/{id}/`, and
/// devices may not use shared subscriptions.
///
/// A backend service (a shared access policy with `serviceConnect`) is the cloud side of every device of its
/// tenant: it subscribes under `devices/…` (shared subscriptions too, to spread load), to cloud-to-device
/// feedback on `$iothub/feedback/…` and to `$SYS/…`, and
/// publishes only cloud-to-device messages, `devices/{id}/messages/devicebound/…`.
public struct NamespaceAuthorizer: Authorizer {
    public init() {}

    public func decide(_ request: AuthorizationRequest) -> Decision {
        switch request.subject {
        case .device(let deviceID): Self.decide(device: deviceID, request.action, request.topic)
        case .service(_, let permissions): Self.decide(service: permissions, request.action, request.topic)
        }
    }

    private static func decide(device deviceID: DeviceID, _ action: AuthorizationRequest.Action, _ topic: String)
        -> Decision
    {
        let own = "devices/\(deviceID.rawValue)/"
        switch action {
        case .publish:
            if topic.hasPrefix(own) || iotHubPublishTopics.contains(where: topic.hasPrefix) {
                return .allow()
            }
            return .deny(["publish topic is outside '\(own)…' and the device's $iothub/ topics"])
        case .subscribe:
            if topic.hasPrefix("$share/") {
                return .deny(["devices may not use shared subscriptions"])
            }
            if topic.hasPrefix(own) || iotHubSubscribeFilters.contains(topic) {
                return .allow()
            }
            return .deny(["subscription filter is outside '\(own)…' and the device's $iothub/ filters"])
        }
    }

    private static func decide(
        service permissions: Set<SharedAccessPolicy.Permission>, _ action: AuthorizationRequest.Action, _ topic: String
    ) -> Decision {
        guard permissions.contains(.serviceConnect) else {
            return .deny(["the shared access policy does not grant serviceConnect"])
        }
        switch action {
        case .publish:
            let levels = topic.split(separator: "/", maxSplits: 4, omittingEmptySubsequences: false)
            if levels.count >= 4, levels[0] == "devices", !levels[1].isEmpty, levels[2] == "messages",
                levels[3] == "devicebound"
            {
                return .allow()
            }
            return .deny(["services publish only cloud-to-device messages, 'devices/{id}/messages/devicebound/…'"])
        case .subscribe:
            var filter = Substring(topic)
            if filter.hasPrefix("$share/"), let slash = filter.dropFirst("$share/".count).firstIndex(of: "/") {
                filter = filter[filter.index(after: slash)...]
            }
            if filter.hasPrefix("devices/") || filter.hasPrefix("$SYS/") || filter.hasPrefix("$iothub/feedback/") {
                return .allow()
            }
            return .deny(["services subscribe under 'devices/…', '$iothub/feedback/…' and '$SYS/…' only"])
        }
    }

    /// Twin requests and method responses (anchors.md §1.3).
    static let iotHubPublishTopics = [
        "$iothub/twin/GET/", "$iothub/twin/PATCH/properties/reported/", "$iothub/methods/res/",
    ]

    /// Twin responses, desired-property patches and method requests, as the Azure SDKs subscribe to them.
    static let iotHubSubscribeFilters: Set<String> = [
        "$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/#", "$iothub/methods/POST/#",
    ]
}
