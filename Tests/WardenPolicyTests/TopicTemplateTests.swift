import Testing
import WardenCore
import WardenMQTT
import WardenPolicy

/// Policy resources: topic filters with the requestor's values, which never widen a match.
struct TopicTemplateTests {
    private func bound(_ text: String, device: String = "dev-1", attributes: [String: String] = [:]) throws
        -> [TopicTemplate.Binding]
    {
        try TopicTemplate(text).bind(
            .init(tenantID: .defaultTenant, deviceID: try DeviceID(device), attributes: attributes))
    }

    @Test(arguments: [
        "", "a/#/b", "a/b+", "a/#x", "floors/${device.floor}", "a/${device.id", "$share//a", "$share/g",
        "$share/g+/a", String(repeating: "a", count: 1025), "a/#\u{301}", "a/+\u{301}",
    ])
    func refusesWhatIsNoFilter(_ text: String) {
        #expect(throws: PolicyError.self) { try TopicTemplate(text) }
    }

    @Test(arguments: [
        ("devices/${device.id}/+/#", "devices/dev-1/messages/events/", true),
        ("devices/${device.id}/+/#", "devices/dev-1/", true),
        ("devices/${device.id}/+/#", "devices/dev-1", false),
        ("devices/${device.id}/+/#", "devices/dev-10/x", false),
        ("floor-${device.attr.floor}/#", "floor-3/temp", true),
        ("floor-${device.attr.floor}/#", "floor-4/temp", false),
        ("#", "$SYS/broker", false), ("+/broker", "$SYS/broker", false), ("$SYS/#", "$SYS/broker", true),
        ("a/+/c", "a//c", true), ("a/+/c", "a/b/c/d", false), ("a/#", "a", true),
        // Levels are split at `/` bytes, as MQTT splits topics: a combining mark after it starts a level.
        ("a/\u{301}b", "a/\u{301}b", true), ("a/+", "a/\u{301}b", true),
    ])
    func matchesTopics(_ template: String, _ topic: String, _ matches: Bool) throws {
        let filters = try bound(template, attributes: ["floor": "3"])
        #expect(filters.count == 1 && filters[0].matches(topic: topic) == matches)
    }

    @Test(arguments: [
        ("devices/${device.id}/+/#", "devices/dev-1/#", true),
        ("devices/${device.id}/+/#", "devices/dev-1/messages/devicebound/#", true),
        ("devices/${device.id}/+/#", "devices/dev-1/+/x", true),
        ("devices/${device.id}/+/#", "devices/dev-1", false), ("devices/${device.id}/+/#", "devices/+/x", false),
        ("devices/${device.id}/+/#", "devices/#", false), ("devices/${device.id}/+/#", "#", false),
        ("a/+", "a/#", false), ("a/+", "a/+", true), ("a/+", "a/b", true), ("a/b", "a/+", false),
        ("a/#", "a/#", true), ("a/#", "a", true), ("+/x", "$SYS/x", false), ("$SYS/+/#", "$SYS/broker/#", true),
        ("$share/+/devices/+/#", "$share/g/devices/+/x/#", true), ("$share/g/a/#", "$share/h/a/#", false),
        ("$share/g/a/#", "$share/g/a/b", true), ("a/#", "$share/g/a/b", false), ("$share/+/a/#", "a/b", false),
    ])
    func coversFilters(_ template: String, _ filter: String, _ covers: Bool) throws {
        let filters = try bound(template)
        let requested = try TopicFilter(filter)
        #expect(filters.count == 1 && filters[0].covers(requested) == covers)
    }

    /// A device id or attribute holding `+`, `#` or `/` is text: it matches only itself.
    @Test func valuesNeverWiden() throws {
        let plus = try bound("devices/${device.id}/+/#", device: "+")
        #expect(plus[0].matches(topic: "devices/dev-1/messages/events/") == false)
        let own = try TopicFilter("devices/dev-1/#")
        let any = try TopicFilter("devices/+/x")
        #expect(plus[0].covers(own) == false && plus[0].covers(any) == false)
        let hash = try bound("devices/${device.id}/+/#", device: "#")
        #expect(hash[0].matches(topic: "devices/a/b/c") == false)
        let slash = try bound("floors/${device.attr.floor}/#", attributes: ["floor": "3/4"])
        #expect(
            slash[0].matches(topic: "floors/3/4/temp") == false && slash[0].matches(topic: "floors/3/temp") == false)
        let wildcard = try bound("floors/${device.attr.floor}/#", attributes: ["floor": "#"])
        #expect(wildcard[0].matches(topic: "floors/3/temp") == false)
    }

    @Test func aMissingValueAnswersNothingAndGroupsBindOnceEach() throws {
        let unplaced = try bound("floors/${device.attr.floor}/#")
        #expect(unplaced.count == 1 && unplaced[0].matches(topic: "floors/3/x") == nil)
        #expect(try unplaced[0].covers(TopicFilter("floors/3/#")) == nil)
        let groups = try TopicTemplate("groups/${device.group}/#").bind(
            .init(
                tenantID: .defaultTenant, deviceID: try DeviceID("d"),
                groups: [try GroupName("a"), try GroupName("b")]))
        #expect(groups.map { $0.matches(topic: "groups/a/x") } == [true, false])
        #expect(groups.map { $0.matches(topic: "groups/b/x") } == [false, true])
    }
}
