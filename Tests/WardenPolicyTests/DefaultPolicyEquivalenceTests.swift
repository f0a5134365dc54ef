import Testing
import WardenCore
import WardenMQTT
import WardenPolicy

/// The shipped default policy decides exactly as the namespace rules did, over every topic and filter shape
/// the Azure SDKs use and the hostile shapes around them, for devices (also ones named like wildcards) and
/// services with and without `serviceConnect` — except where the rules let a wildcard in a device id widen
/// its namespace.
struct DefaultPolicyEquivalenceTests {
    static let devices = ["dev-1", "+", "#", "a$b", "dev-10"]

    /// Topics with `{id}` standing for the device's own id.
    static let topics = [
        "devices/{id}/messages/events/", "devices/{id}/messages/events", "devices/{id}/messages/events/%24.ct=a&k=v",
        "devices/{id}/messages/devicebound/%24.mid=1", "devices/{id}/messages/devicebound", "devices/{id}/",
        "devices/{id}", "devices/{id}x/a", "devices/other/messages/events/", "devices//messages/devicebound/",
        "devices/other/messages/devicebound/", "$iothub/twin/GET/?$rid=1", "$iothub/twin/GET/", "$iothub/twin/GET",
        "$iothub/twin/PATCH/properties/reported/?$rid=2", "$iothub/twin/PATCH/properties/desired/?$version=2",
        "$iothub/methods/res/200/?$rid=3", "$iothub/methods/res", "$iothub/methods/POST/reboot/?$rid=4",
        "$iothub/twin/res/200/?$rid=5", "$iothub/feedback/dev-1", "$SYS/broker/clients/connected", "other/topic",
        "devices", "a",
    ]

    /// Filters, `{id}` as above.
    static let filters = [
        "devices/{id}/messages/devicebound/#", "devices/{id}/#", "devices/{id}", "devices/{id}/+",
        "devices/+/messages/devicebound/#", "devices/+/messages/events/#", "devices/#", "devices", "#", "+/#",
        "$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/#", "$iothub/methods/POST/#", "$iothub/#",
        "$share/g/devices/{id}/messages/devicebound/#", "$share/workers/devices/+/messages/events/#",
        "$SYS/broker/#", "$SYS/#", "$iothub/feedback/#", "$iothub/feedback/+", "$share/g/$SYS/#", "other/#",
    ]

    static let servicePermissions: [Set<SharedAccessPolicy.Permission>] = [
        [.serviceConnect], [.registryRead], [.serviceConnect, .registryReadWrite],
    ]

    let engine = PolicyAuthorizer(FixedPolicyFacts())
    let oracle = NamespaceRules()

    private func agree(_ request: AuthorizationRequest) {
        let expected = oracle.decide(request).isAllowed
        #expect(
            engine.decide(request).isAllowed == expected, "\(request.subject) \(request.resource?.text ?? "connect")")
    }

    @Test(arguments: devices)
    func devicesAgree(_ device: String) throws {
        let deviceID = try DeviceID(device)
        agree(.connect(.device(deviceID), in: .defaultTenant))
        for topic in Self.topics {
            agree(.device(deviceID, in: .defaultTenant, .topic(topic.replacing("{id}", with: device))))
        }
        for text in Self.filters {
            guard let filter = try? TopicFilter(text.replacing("{id}", with: device)) else { continue }
            let request = AuthorizationRequest.device(deviceID, in: .defaultTenant, .filter(filter))
            if device == "+", filter.filter.hasPrefix("devices/+/") {
                // The one difference, a fix: the namespace rules compared text, so a device named `+` could
                // subscribe to `devices/+/…`, every device's namespace. The policy binds the id as text.
                #expect(!engine.decide(request).isAllowed)
                continue
            }
            agree(request)
        }
    }

    @Test(arguments: servicePermissions)
    func servicesAgree(_ permissions: Set<SharedAccessPolicy.Permission>) throws {
        let policy = try PolicyName("backend")
        if permissions.contains(.serviceConnect) {
            agree(.connect(.service(policy, permissions: permissions), in: .defaultTenant))
        }
        for topic in Self.topics {
            agree(
                .service(
                    policy, permissions: permissions, in: .defaultTenant, .topic(topic.replacing("{id}", with: "dev-1"))
                ))
        }
        for text in Self.filters {
            let filter = try TopicFilter(text.replacing("{id}", with: "dev-1"))
            agree(.service(policy, permissions: permissions, in: .defaultTenant, .filter(filter)))
        }
    }
}
