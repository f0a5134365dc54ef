import Testing
import WardenMQTT

@testable import WardenBroker

struct SubscriptionTrieTests {
    private func matches(_ trie: SubscriptionTrie<String, Int>, _ topic: String) -> [String] {
        var found: [String] = []
        trie.forEachMatch(topic) { subscriber, _ in found.append(subscriber) }
        return found.sorted()
    }

    static let filters = [
        "sport/tennis/player1/#", "sport/#", "#", "sport/tennis/+", "+/+", "/+", "+", "$SYS/#",
        "+/monitor/Clients", "a/b", "sport/+", "devices/+/messages/events/#",
        // Bytes, not Characters: the Kelvin sign is not K, and a combining mark after a `/` starts a level.
        "k/K", "k/\u{212A}/#", "c/\u{301}x",
    ]

    static let topics = [
        "sport/tennis/player1", "sport/tennis/player1/ranking", "sport", "sport/", "/finance", "$SYS/broker",
        "$SYS/monitor/Clients", "a/b", "A/b", "a", "devices/d1/messages/events/x=1", "devices/d1/messages/events", "",
        "k/K", "k/\u{212A}", "c/\u{301}x",
    ]

    /// The trie agrees with `TopicFilter.matches` (itself tested on the specification's examples) on every pair.
    @Test func agreesWithTheFilterDefinition() throws {
        var trie = SubscriptionTrie<String, Int>()
        for filter in Self.filters { trie.insert(filter, subscriber: filter, value: 0) }
        for topic in Self.topics {
            let expected = try Self.filters.filter { filter in try TopicFilter(filter).matches(topic) }.sorted()
            #expect(matches(trie, topic) == expected, "\(topic)")
        }
    }

    @Test func removalFreesNodesAndForgets() {
        var trie = SubscriptionTrie<String, Int>()
        let first = trie.insert("a/+/c", subscriber: "s1", value: 1)
        let again = trie.insert("a/+/c", subscriber: "s1", value: 2)
        #expect(first && !again)
        trie.insert("a/#", subscriber: "s2", value: 3)
        #expect(trie.count == 2)
        var values: [Int] = []
        trie.forEachMatch("a/b/c") { _, value in values.append(value) }
        #expect(values.sorted() == [2, 3])
        let removed = trie.remove("a/+/c", subscriber: "s1")
        let removedAgain = trie.remove("a/+/c", subscriber: "s1")
        let removedUnknown = trie.remove("x/y", subscriber: "s1")
        #expect(removed && !removedAgain && !removedUnknown)
        #expect(matches(trie, "a/b/c") == ["s2"])
        let removedLast = trie.remove("a/#", subscriber: "s2")
        #expect(removedLast && trie.count == 0 && matches(trie, "a/b/c").isEmpty)
        trie.insert("q/r", subscriber: "s3", value: 4)
        #expect(matches(trie, "q/r") == ["s3"])
    }

    @Test func manySubscribersOnOneFilter() {
        var trie = SubscriptionTrie<Int, Int>()
        for subscriber in 0..<1000 {
            trie.insert("devices/d/messages/devicebound/#", subscriber: subscriber, value: subscriber)
        }
        var count = 0
        trie.forEachMatch("devices/d/messages/devicebound/%24.mid=1") { _, _ in count += 1 }
        #expect(count == 1000)
    }

    /// A filter and topic of 32,000 levels (64 KiB, as MQTT allows) once meant a stack frame per level.
    @Test func deepTopicsMatchWithoutRecursion() {
        var trie = SubscriptionTrie<String, Int>()
        let deep = "devices/d/" + Array(repeating: "a", count: 32_000).joined(separator: "/")
        trie.insert(deep, subscriber: "exact", value: 0)
        trie.insert(
            "devices/d/" + Array(repeating: "+", count: 32_000).joined(separator: "/"), subscriber: "plus", value: 0)
        trie.insert("devices/d/a/#", subscriber: "multi", value: 0)
        #expect(matches(trie, deep) == ["exact", "multi", "plus"])
    }
}
