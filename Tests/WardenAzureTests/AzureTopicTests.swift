import Testing
import WardenAzure
import WardenCore

/// Azure's MQTT topics, as the SDKs and the hub write them (anchors.md §1.3).
struct AzureTopicTests {
    let device: DeviceID

    init() throws {
        device = try DeviceID("meter-1")
    }

    @Test(arguments: [
        ("devices/meter-1/messages/events/", ""), ("devices/meter-1/messages/events", ""),
        ("devices/meter-1/messages/events/%24.ct=a&k=v", "%24.ct=a&k=v"),
        ("devices/meter-1/messages/events/a/b", "a/b"),
    ])
    func telemetryTopicsGiveTheirBag(topic: String, bag: String) {
        #expect(AzureTopic(topic) == .telemetry(device, propertyBag: bag))
    }

    /// Topics are bytes (MQTT compares them so, and `HubFeature` classes them so): a combining mark after a `/`
    /// does not hide the `/`, as it would from a comparison of Characters.
    @Test func separatorsAreBytesNotCharacters() {
        #expect(
            AzureTopic("devices/meter-1/messages/events/\u{301}a=b") == .telemetry(device, propertyBag: "\u{301}a=b"))
        #expect(HubFeature("devices/meter-1/messages/events/\u{301}a=b") == .telemetry)
        #expect(AzureTopic("$iothub/twin/GET/?\u{301}$rid=1") == .twinGet(requestID: ""))
        #expect(AzureTopic("$iothub/twin/GET/?$rid=\u{301}1") == .twinGet(requestID: "\u{301}1"))
        #expect(AzureTopic("devices/meter-1\u{301}/messages/events/") == nil)
    }

    @Test(arguments: [
        "devices/meter-1/messages/eventsx", "devices/meter-1/messages/", "devices/meter-1", "devices//messages/events/",
        "devices/a b/messages/events/", "other/topic", "$iothub/unknown", "$iothub/twin/res/abc/?$rid=1",
        "$iothub/twin/PATCH/properties/desired/?$version=x", "$iothub/methods/POST//?$rid=1", "$SYS/broker", "",
    ])
    func otherTopicsAreNotTheDialects(topic: String) {
        #expect(AzureTopic(topic) == nil)
    }

    @Test func theSDKsRequestsParse() {
        #expect(AzureTopic("$iothub/twin/GET/?$rid=7") == .twinGet(requestID: "7"))
        #expect(AzureTopic("$iothub/twin/GET/") == .twinGet(requestID: ""))
        #expect(
            AzureTopic("$iothub/twin/PATCH/properties/reported/?$rid=8&x=y") == .twinReportedPatch(requestID: "8"))
        #expect(AzureTopic("$iothub/methods/res/200/?$rid=a1") == .methodResponse(status: 200, requestID: "a1"))
        #expect(AzureTopic("$iothub/methods/res/ok/?$rid=a1") == .methodResponse(status: nil, requestID: "a1"))
        #expect(
            AzureTopic("$iothub/methods/res/99999999999999999999/?$rid=1")
                == .methodResponse(status: nil, requestID: "1"))
    }

    /// Every topic the hub writes reads back as itself.
    @Test func theHubsTopicsRoundTrip() throws {
        let topics: [AzureTopic] = [
            .telemetry(device, propertyBag: "%24.mid=1&a=b"), .telemetry(device, propertyBag: ""),
            .cloudToDevice(device, propertyBag: "%24.mid=m&%24.to=%2Fdevices%2Fmeter-1%2Fmessages%2FdeviceBound"),
            .twinGet(requestID: "1"), .twinReportedPatch(requestID: "2"),
            .twinResponse(status: 200, requestID: "3", version: nil),
            .twinResponse(status: 204, requestID: "4", version: 17), .twinDesiredPatch(version: 9),
            .methodRequest(name: "reboot", requestID: "5"), .methodResponse(status: 500, requestID: "6"),
            .feedback(device),
        ]
        for topic in topics {
            #expect(AzureTopic(topic.name) == topic, "\(topic.name)")
        }
        #expect(
            AzureTopic.twinResponse(status: 204, requestID: "4", version: 17).name
                == "$iothub/twin/res/204/?$rid=4&$version=17")
        #expect(AzureTopic.methodRequest(name: "reboot", requestID: "5").name == "$iothub/methods/POST/reboot/?$rid=5")
    }

    @Test func onlyTheDevicesRequestsAreRequests() throws {
        #expect(AzureTopic("$iothub/twin/GET/?$rid=1")?.isDeviceRequest == true)
        #expect(AzureTopic("$iothub/methods/res/200/?$rid=1")?.isDeviceRequest == true)
        #expect(AzureTopic("$iothub/methods/POST/x/?$rid=1")?.isDeviceRequest == false)
        #expect(AzureTopic("devices/meter-1/messages/events/")?.isDeviceRequest == false)
        #expect(AzureTopic.namespace(of: device) == "devices/meter-1/")
    }
}

/// The usernames, read once into one of the hub's forms.
struct HubUsernameTests {
    @Test func servicesAndDevicesAreToldApart() {
        guard case .service(let service) = HubUsername("Hub.Example/$service/backend/?api-version=1") else {
            Issue.record("not a service")
            return
        }
        #expect(service.hostName == "hub.example" && service.policyName.rawValue == "backend")
        guard case .device(let device) = HubUsername("hub.example/dev-1/?api-version=1") else {
            Issue.record("not a device")
            return
        }
        #expect(device.deviceID.rawValue == "dev-1" && device.dialect == .azure)
        #expect(HubUsername("hub.example/dev-1")?.hostName == "hub.example")
        #expect(HubUsername("nonsense") == nil && HubUsername("") == nil && HubUsername("a/b/c/d") == nil)
    }
}
