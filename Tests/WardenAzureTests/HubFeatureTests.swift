import Testing
import WardenAzure

/// Topic names and filters are classed by their literal start alike, shared subscriptions looked through.
struct HubFeatureTests {
    @Test(arguments: [
        ("devices/m-1/messages/events/", HubFeature.telemetry), ("devices/m-1/messages/events", .telemetry),
        ("devices/+/messages/events/#", .telemetry), ("$share/g/devices/+/messages/events/#", .telemetry),
        ("devices/m-1/messages/devicebound/%24.mid=1", .cloudToDevice),
        ("devices/m-1/messages/devicebound/#", .cloudToDevice),
        ("devices//messages/devicebound/", .cloudToDevice), ("$iothub/twin/GET/?$rid=1", .twinGet),
        ("$iothub/twin/PATCH/properties/reported/?$rid=2", .twinReportedPatch),
        ("$iothub/twin/PATCH/properties/desired/#", .twinDesiredPatch),
        ("$iothub/twin/PATCH/properties/desired/?$version=3", .twinDesiredPatch),
        ("$iothub/methods/POST/#", .methodRequest), ("$iothub/methods/POST/reboot/?$rid=4", .methodRequest),
        ("$iothub/methods/res/200/?$rid=4", .methodResponse),
    ])
    func theDialectsTopicsAndFiltersAreClassed(text: String, feature: HubFeature) {
        #expect(HubFeature(text) == feature)
    }

    @Test(arguments: [
        "devices/m-1/messages/eventsx", "devices/m-1/messages/", "devices/m-1/#", "devices/#", "#",
        "+/+/messages/events",
        "$iothub/twin/res/200/?$rid=1", "$iothub/#", "$iothub/twin/GET", "$share/g", "$share/g/#", "$SYS/broker/#",
        "other/devices/m-1/messages/events", "",
    ])
    func theRestIsPlainMQTT(text: String) {
        #expect(HubFeature(text) == nil)
    }
}
