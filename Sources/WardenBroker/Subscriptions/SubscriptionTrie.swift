import WardenMQTT

/// Subscriptions indexed by topic level, so that routing a message costs the topic's depth, not the number
/// of subscriptions (issue 3, Performance).
///
/// A value type: nodes live in one array and refer to each other by index, so the trie is `Sendable` and
/// copies cheaply until written. `+` and `#` are children of their own; a filter `a/#` also matches `a`
/// (§4.7.1.2); filters starting with a wildcard do not match topics starting with `$` ([MQTT-4.7.2-1]).
public struct SubscriptionTrie<Subscriber: Hashable & Sendable, Value: Sendable>: Sendable {
    struct Node: Sendable {
        /// Keyed by the level's bytes, as MQTT compares topics (a `String` key would take `K` for the Kelvin sign).
        var children: [TopicKey: Int] = [:]
        var singleLevel: Int?
        /// Subscribers whose filter ends here with `#`.
        var multiLevel: [Subscriber: Value] = [:]
        /// Subscribers whose filter ends exactly here.
        var exact: [Subscriber: Value] = [:]

        var isEmpty: Bool { children.isEmpty && singleLevel == nil && multiLevel.isEmpty && exact.isEmpty }
    }

    private var nodes = [Node()]
    private var free: [Int] = []
    /// How many (filter, subscriber) pairs the trie holds.
    public private(set) var count = 0

    /// An empty trie.
    public init() {}

    /// A filter's levels up to a final `#` (a `+` level is nil, a wildcard child's key), and which subscriber
    /// table of the last node it ends in.
    private static func walk(_ filter: String) -> (
        levels: [TopicKey?], table: WritableKeyPath<Node, [Subscriber: Value]>
    ) {
        var levels: [TopicKey?] = []
        // Split at the `/` bytes, as topics are in `forEachMatch` (a combining mark after a `/` does not join
        // the levels, as it would in a split of Characters).
        for level in Substring(filter).utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            if level.elementsEqual("#".utf8) { return (levels, \.multiLevel) }
            levels.append(level.elementsEqual("+".utf8) ? nil : TopicKey(String(Substring(level))))
        }
        return (levels, \.exact)
    }

    /// Adds or replaces `subscriber`'s subscription to `filter` (a validated filter's `filter` part).
    /// Returns whether it was new.
    @discardableResult
    public mutating func insert(_ filter: String, subscriber: Subscriber, value: Value) -> Bool {
        let (levels, table) = Self.walk(filter)
        var node = 0
        for key in levels { node = child(of: node, key) }
        let previous = nodes[node][keyPath: table].updateValue(value, forKey: subscriber)
        if previous == nil { count += 1 }
        return previous == nil
    }

    /// Removes `subscriber`'s subscription to `filter`; returns whether there was one. Emptied nodes are freed.
    @discardableResult
    public mutating func remove(_ filter: String, subscriber: Subscriber) -> Bool {
        let (levels, table) = Self.walk(filter)
        var path: [(node: Int, level: TopicKey?)] = []
        var node = 0
        for key in levels {
            guard let next = key.map({ nodes[node].children[$0] }) ?? nodes[node].singleLevel else { return false }
            path.append((node, key))
            node = next
        }
        let removed = nodes[node][keyPath: table].removeValue(forKey: subscriber)
        guard removed != nil else { return false }
        count -= 1
        // Free the nodes the removal emptied, deepest first.
        while let (parent, key) = path.last, nodes[node].isEmpty {
            if let key { nodes[parent].children[key] = nil } else { nodes[parent].singleLevel = nil }
            nodes[node] = Node()
            free.append(node)
            node = parent
            path.removeLast()
        }
        return true
    }

    /// Calls `body` once for every (subscriber, value) whose filter matches `topic`. A subscriber with
    /// several matching filters is reported once per filter (the broker merges them, §3.3.4).
    public func forEachMatch(_ topic: String, _ body: (Subscriber, Value) -> Void) {
        // Most tries asked hold nothing: the shared groups' of a tenant without any, a tenant's whose devices'
        // telemetry nobody reads.
        guard count > 0 else { return }
        let isSystem = topic.utf8.first == UInt8(ascii: "$")
        // A loop over an explicit stack, not recursion: a topic may have tens of thousands of levels, and a
        // frame per level would overflow the event loop's stack. Each node is at one depth, so each is
        // visited at most once.
        var pending: [(index: Int, rest: Substring.UTF8View?)] = [(0, topic.utf8[...])]
        while let (index, rest) = pending.popLast() {
            let node = nodes[index]
            let wildcardsAllowed = !(index == 0 && isSystem)
            if wildcardsAllowed {
                for (subscriber, value) in node.multiLevel { body(subscriber, value) }
            }
            guard let rest else {
                for (subscriber, value) in node.exact { body(subscriber, value) }
                continue
            }
            let slash = rest.firstIndex(of: UInt8(ascii: "/"))
            let level = rest[..<(slash ?? rest.endIndex)]
            let next = slash.map { rest[rest.index(after: $0)...] }
            if wildcardsAllowed, let single = node.singleLevel { pending.append((single, next)) }
            if let child = node.children[TopicKey(String(Substring(level)))] { pending.append((child, next)) }
        }
    }

    private mutating func child(of node: Int, _ level: TopicKey?) -> Int {
        if let existing = level.map({ nodes[node].children[$0] }) ?? nodes[node].singleLevel {
            return existing
        }
        let index: Int
        if let reused = free.popLast() {
            index = reused
        } else {
            index = nodes.count
            nodes.append(Node())
        }
        if let level { nodes[node].children[level] = index } else { nodes[node].singleLevel = index }
        return index
    }
}
