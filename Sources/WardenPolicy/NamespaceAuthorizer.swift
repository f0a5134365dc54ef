public import WardenCore

/// The default authorization until the policy engine: a device publishes and subscribes only in its own
/// namespace, `devices/{its id}/…`, and on the `$iothub/…` topics of its own connection (anchors.md §1.3).
///
/// The namespace comes from the authenticated identity only; a ClientId or topic the client chose cannot
/// widen it. Wildcards may appear only below `devices/{id}/`, and devices may not use shared subscriptions.
public struct NamespaceAuthorizer: Authorizer {
    public init() {}

    public func decide(_ request: AuthorizationRequest) -> Decision {
        let own = "devices/\(request.deviceID.rawValue)/"
        switch request.action {
        case .publish:
            if request.topic.hasPrefix(own) || Self.iotHubPublishTopics.contains(where: request.topic.hasPrefix) {
                return .allow()
            }
            return .deny(["publish topic is outside '\(own)…' and the device's $iothub/ topics"])
        case .subscribe:
            if request.topic.hasPrefix("$share/") {
                return .deny(["devices may not use shared subscriptions"])
            }
            if request.topic.hasPrefix(own) || Self.iotHubSubscribeFilters.contains(request.topic) {
                return .allow()
            }
            return .deny(["subscription filter is outside '\(own)…' and the device's $iothub/ filters"])
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
