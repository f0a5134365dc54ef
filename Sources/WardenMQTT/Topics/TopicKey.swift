/// A topic, filter or share name as MQTT and the policy compare it: its UTF-8 bytes. Swift's `String` equality
/// is Unicode canonical equivalence (`"K"` equals the Kelvin sign `"\u{212A}"`, a precomposed `é` equals `e` and
/// a combining acute), so a table keyed by `String` would take one topic for another.
public struct TopicKey: Hashable, Sendable {
    public let topic: String

    public init(_ topic: String) {
        self.topic = topic
    }

    public static func == (lhs: TopicKey, rhs: TopicKey) -> Bool {
        guard lhs.topic.utf8.count == rhs.topic.utf8.count else { return false }
        // Native strings are contiguous: a loop over their bytes, not over `UTF8View`'s indices (a connection
        // compares each PUBLISH's topic with the last one).
        let compared = lhs.topic.utf8.withContiguousStorageIfAvailable { left in
            rhs.topic.utf8.withContiguousStorageIfAvailable { right in left.elementsEqual(right) }
        }
        return compared.flatMap { $0 } ?? lhs.topic.utf8.elementsEqual(rhs.topic.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        let hashed: Void? = topic.utf8.withContiguousStorageIfAvailable {
            hasher.combine(bytes: UnsafeRawBufferPointer($0))
        }
        // Not contiguous (never for a native string): the same bytes, the same way.
        if hashed == nil { Array(topic.utf8).withUnsafeBytes { hasher.combine(bytes: $0) } }
        hasher.combine(topic.utf8.count)
    }
}
