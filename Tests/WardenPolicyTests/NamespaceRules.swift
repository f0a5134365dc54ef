import WardenAzure
import WardenCore
import WardenMQTT
import WardenPolicy

/// The namespace rules as they were written by hand before the policy engine (issue 3, "Authorization"), kept
/// as the oracle the shipped `DefaultPolicy` must agree with (`DefaultPolicyEquivalenceTests`).
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
struct NamespaceRules: Authorizer {
    func decide(_ request: AuthorizationRequest) -> Decision {
        // Every authenticated identity connected; the rules were about topics only.
        guard let resource = request.resource else { return .allow() }
        return switch request.subject {
        case .device(let deviceID): Self.decide(device: deviceID, resource)
        case .service(_, let permissions): Self.decide(service: permissions, resource)
        }
    }

    private static func decide(device deviceID: DeviceID, _ resource: AuthorizationRequest.Resource) -> Decision {
        let own = AzureTopic.namespace(of: deviceID)
        switch resource {
        case .topic(let topic):
            if topic.hasPrefix(own) || AzureTopic(topic)?.isDeviceRequest == true {
                return .allow()
            }
            return .deny(["publish topic is outside '\(own)…' and the device's $iothub/ topics"])
        case .filter(let filter):
            if filter.shareName != nil {
                return .deny(["devices may not use shared subscriptions"])
            }
            if filter.rawValue.hasPrefix(own) || AzureTopic.deviceFilters.contains(filter.rawValue) {
                return .allow()
            }
            return .deny(["subscription filter is outside '\(own)…' and the device's $iothub/ filters"])
        }
    }

    private static func decide(
        service permissions: Set<SharedAccessPolicy.Permission>, _ resource: AuthorizationRequest.Resource
    ) -> Decision {
        guard permissions.contains(.serviceConnect) else {
            return .deny(["the shared access policy does not grant serviceConnect"])
        }
        switch resource {
        case .topic(let topic):
            if case .cloudToDevice = AzureTopic(topic) { return .allow() }
            return .deny(["services publish only cloud-to-device messages, 'devices/{id}/messages/devicebound/…'"])
        case .filter(let filter):
            let matched = filter.filter
            if matched.hasPrefix("devices/") || matched.hasPrefix("$SYS/")
                || matched.hasPrefix(AzureTopic.feedbackPrefix)
            {
                return .allow()
            }
            return .deny(["services subscribe under 'devices/…', '$iothub/feedback/…' and '$SYS/…' only"])
        }
    }
}
