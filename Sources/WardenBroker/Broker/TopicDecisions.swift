import WardenMQTT

/// Decisions remembered per topic while the generation they were made in lasts: a session's `receive`
/// decisions (`ReceiveCheck`), a connection's standing PUBLISH allows (`MQTTConnectionHandler.authorizePublish`).
/// At most `capacity` topics of one generation, each of at most `longestTopic` bytes.
struct TopicDecisions: Sendable {
    /// How many topics; beyond it the table starts again (a cost, never a wrong answer).
    let capacity: Int
    /// Longer topics are decided each time: what a connection keeps stays small (at most `capacity` times this).
    let longestTopic: Int
    private var generation: UInt64 = 0
    private var decisions: [TopicKey: Bool] = [:]

    /// Enough for a subscriber of many publishers (`receive`), or a device's few topics (`publish`).
    init(capacity: Int, longestTopic: Int = 256) {
        self.capacity = capacity
        self.longestTopic = longestTopic
    }

    func decision(_ topic: String, generation: UInt64) -> Bool? {
        // Empty (a tenant whose decisions do not stand, a table just started again): no topic to hash.
        guard generation == self.generation, !decisions.isEmpty else { return nil }
        return decisions[TopicKey(topic)]
    }

    /// Forgets every decision: what they were made from changed for this session alone (its device's twin).
    mutating func forget() {
        decisions.removeAll(keepingCapacity: true)
    }

    mutating func remember(_ topic: String, _ isAllowed: Bool, generation: UInt64) {
        guard topic.utf8.count <= longestTopic else { return }
        if generation != self.generation || decisions.count >= capacity {
            decisions.removeAll(keepingCapacity: true)
            self.generation = generation
        }
        decisions[TopicKey(topic)] = isAllowed
    }
}
