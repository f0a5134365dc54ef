/// A validated Topic Filter, with a shared subscription's `$share/{ShareName}/` prefix split off.
public struct TopicFilter: Sendable, Hashable, CustomStringConvertible {
    /// The filter exactly as the client sent it.
    public let rawValue: String
    /// The share name of a shared subscription (5.0 §4.8.2), nil otherwise.
    public let shareName: String?
    /// The filter topics are matched against (without the `$share/…/` prefix).
    public let filter: String

    /// The filter part of `text`: without a `$share/{ShareName}/` prefix (all of `text` when it has none).
    static func filterPart(of text: String) -> Substring {
        let bytes = Substring(text).utf8
        guard bytes.starts(with: "$share/".utf8) else { return Substring(text) }
        let rest = bytes.dropFirst("$share/".utf8.count)
        return Substring(rest.firstIndex(of: UInt8(ascii: "/")).map { rest[rest.index(after: $0)...] } ?? rest)
    }

    /// Filters are equal when their bytes are, as MQTT compares them (`String`'s equality is canonical
    /// equivalence: `t/K` would equal `t/\u{212A}`, two filters a session holds apart).
    public static func == (lhs: TopicFilter, rhs: TopicFilter) -> Bool {
        TopicKey(lhs.rawValue) == TopicKey(rhs.rawValue)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(TopicKey(rawValue))
    }

    /// Validates `text`: not empty; `#` only as the whole last level; `+` only as a whole level
    /// (3.1.1 and 5.0 §4.7.1); a share name is not empty and holds no `/`, `+` or `#` ([MQTT-4.8.2-1], [MQTT-4.8.2-2]).
    public init(_ text: String) throws(MQTTDecodingError) {
        guard !text.isEmpty else { throw .malformed("topic_filter.empty") }
        // Bytes, as topics are matched: a combining mark after `/`, `+` or `#` does not hide it.
        let hash = UInt8(ascii: "#")
        let plus = UInt8(ascii: "+")
        var filter = Substring(text).utf8
        var shareName: String?
        if filter.starts(with: "$share/".utf8) {
            let rest = filter.dropFirst("$share/".utf8.count)
            guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else {
                throw .malformed("shared_subscription.no_filter")
            }
            let name = rest[..<slash]
            guard !name.isEmpty, !name.contains(plus), !name.contains(hash) else {
                throw .malformed("shared_subscription.invalid_share_name")
            }
            shareName = String(Substring(name))
            filter = rest[rest.index(after: slash)...]
            guard !filter.isEmpty else { throw .malformed("shared_subscription.no_filter") }
        }
        let levels = filter.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for (index, level) in levels.enumerated() {
            if level.contains(hash), !level.elementsEqual([hash]) || index != levels.count - 1 {
                throw .malformed("topic_filter.misplaced_multi_level_wildcard")
            }
            if level.contains(plus), !level.elementsEqual([plus]) {
                throw .malformed("topic_filter.misplaced_single_level_wildcard")
            }
        }
        self.rawValue = text
        self.shareName = shareName
        self.filter = String(Substring(filter))
    }

    /// Whether the filter has a wildcard.
    public var hasWildcards: Bool { filter.utf8.contains { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") } }

    /// Whether `topic` matches (§4.7): `+` matches one level, `#` the parent and any levels below; a filter
    /// starting with a wildcard does not match topics starting with `$` ([MQTT-4.7.2-1]). Walks both strings'
    /// UTF-8 level by level without allocating.
    public func matches(_ topic: String) -> Bool {
        let topicBytes = topic.utf8[...]
        let first = filter.utf8.first
        if topicBytes.first == UInt8(ascii: "$"), first == UInt8(ascii: "+") || first == UInt8(ascii: "#") {
            return false
        }
        var filterRest: Substring.UTF8View? = filter.utf8[...]
        var topicRest: Substring.UTF8View? = topicBytes
        while let filterLevels = filterRest {
            let (filterLevel, nextFilter) = Self.splitLevel(filterLevels)
            if filterLevel.elementsEqual("#".utf8) { return true }
            guard let topicLevels = topicRest else { return false }
            let (topicLevel, nextTopic) = Self.splitLevel(topicLevels)
            guard filterLevel.elementsEqual("+".utf8) || filterLevel.elementsEqual(topicLevel) else { return false }
            filterRest = nextFilter
            topicRest = nextTopic
        }
        return topicRest == nil
    }

    /// The first level and what follows its `/` (nil when it was the last level).
    private static func splitLevel(_ levels: Substring.UTF8View) -> (Substring.UTF8View, Substring.UTF8View?) {
        guard let slash = levels.firstIndex(of: UInt8(ascii: "/")) else { return (levels, nil) }
        return (levels[..<slash], levels[levels.index(after: slash)...])
    }

    public var description: String { rawValue }
}
