import Testing
import WardenMQTT

struct TopicFilterTests {
    @Test(arguments: [
        ("sport/tennis/player1/#", "sport/tennis/player1", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", true),
        ("sport/#", "sport", true), ("#", "a/b/c", true), ("sport/tennis/+", "sport/tennis/player1", true),
        ("sport/tennis/+", "sport/tennis/player1/ranking", false), ("sport/+", "sport", false),
        ("sport/+", "sport/", true),
        ("+/+", "/finance", true), ("/+", "/finance", true), ("+", "/finance", false), ("#", "$SYS/broker", false),
        ("+/monitor/Clients", "$SYS/monitor/Clients", false), ("$SYS/#", "$SYS/broker", true), ("a/b", "a/b", true),
        ("a/b", "A/b", false), ("$share/g/a/+", "a/x", true),
    ])
    func matchesLikeTheSpecificationExamples(_ filter: String, _ topic: String, _ expected: Bool) throws {
        #expect(try TopicFilter(filter).matches(topic) == expected)
    }

    @Test func splitsSharedSubscriptions() throws {
        let shared = try TopicFilter("$share/workers/devices/+/telemetry")
        #expect(shared.shareName == "workers" && shared.filter == "devices/+/telemetry" && shared.hasWildcards)
        #expect(try TopicFilter("devices/d1/x").shareName == nil)
    }

    /// Filters are bytes: a combining mark does not hide a wildcard, nor make two filters one.
    @Test func filtersAreBytes() throws {
        #expect(throws: MQTTDecodingError.self) { try TopicFilter("a/#\u{301}") }
        #expect(throws: MQTTDecodingError.self) { try TopicFilter("a/+\u{301}") }
        let kelvin = try TopicFilter("t/\u{212A}")
        #expect(kelvin != (try TopicFilter("t/K")))
        #expect(Set([kelvin, try TopicFilter("t/K"), try TopicFilter("t/\u{212A}")]).count == 2)
        #expect(try TopicFilter("$share/g\u{301}/a/b").shareName == "g\u{301}")
    }

    @Test(arguments: ["", "a/#/b", "a#", "a/b+", "#/", "$share/a", "$share//x", "$share/a+b/x", "$share/g/"])
    func refusesInvalidFilters(_ text: String) {
        #expect(throws: MQTTDecodingError.self) { try TopicFilter(text) }
    }

    @Test func topicNamesHaveNoWildcards() {
        #expect(TopicName.isValid("devices/d1/messages/events/$.ct=application%2Fjson"))
        #expect(!TopicName.isValid(""))
        #expect(!TopicName.isValid("a/+/b"))
        #expect(!TopicName.isValid("a/#"))
    }
}
