import Testing
import WardenCore
import WardenMQTT
import WardenPolicy

@testable import WardenBroker

/// Remembered decisions answer for the very topic decided, byte for byte, as MQTT and the policy compare topics.
struct TopicDecisionsTests {
    @Test(arguments: [
        ("t/K", "t/\u{212A}"),  // the Kelvin sign is canonically equivalent to K
        ("t/\u{E9}", "t/e\u{301}"),  // é precomposed and decomposed
        ("t/e\u{301}", "t/\u{E9}"),
    ])
    func aTopicCanonicallyEquivalentToADecidedOneIsNotAnswered(decided: String, asked: String) {
        #expect(decided == asked)  // what a String-keyed table would have confused
        var decisions = TopicDecisions(capacity: 16)
        decisions.remember(decided, true, generation: 1)
        #expect(decisions.decision(decided, generation: 1) == true)
        #expect(decisions.decision(asked, generation: 1) == nil)
    }

    @Test func anotherGenerationOrALongTopicIsNotAnswered() {
        var decisions = TopicDecisions(capacity: 2, longestTopic: 8)
        decisions.remember("a", true, generation: 1)
        #expect(decisions.decision("a", generation: 2) == nil)
        decisions.remember("123456789", true, generation: 1)
        #expect(decisions.decision("123456789", generation: 1) == nil)
        decisions.remember("b", false, generation: 1)
        decisions.remember("c", true, generation: 1)
        #expect(decisions.decision("c", generation: 1) == true)
        #expect(decisions.decision("a", generation: 1) == nil)  // the table started again at its capacity
    }
}

/// Anonymous clients of a development listener stay out of `$` topics, whatever follows the `$`.
struct AnonymousAccessTests {
    @Test(arguments: ["$\u{301}x", "$SYS/x", "$iothub/twin/GET/", "$\u{301}share/g/x"])
    func dollarTopicsAreRefusedToPublishers(topic: String) {
        #expect(!AnonymousAccess.publishSubscribe.decide(.topic(topic)).isAllowed)
    }

    @Test func statisticsMayBeRead() throws {
        #expect(AnonymousAccess.subscribe.decide(.filter(try TopicFilter("$SYS/#"))).isAllowed)
        #expect(AnonymousAccess.publishSubscribe.decide(.topic("plain/x")).isAllowed)
    }
}
