/// Decisions remembered per topic while the generation they were made in lasts: a session's `receive`
/// decisions (`ReceiveCheck`), a connection's standing PUBLISH allows (`MQTTConnectionHandler.authorizePublish`).
/// At most `capacity` topics of one generation.
struct TopicDecisions: Sendable {
    /// Enough for a subscriber of many publishers; beyond it the table starts again (a cost, never a wrong answer).
    static let capacity = 256
    private var generation: UInt64 = 0
    private var decisions: [String: Bool] = [:]

    func decision(_ topic: String, generation: UInt64) -> Bool? {
        generation == self.generation ? decisions[topic] : nil
    }

    /// Forgets every decision: what they were made from changed for this session alone (its device's twin).
    mutating func forget() {
        decisions.removeAll(keepingCapacity: true)
    }

    mutating func remember(_ topic: String, _ isAllowed: Bool, generation: UInt64) {
        if generation != self.generation || decisions.count >= Self.capacity {
            decisions.removeAll(keepingCapacity: true)
            self.generation = generation
        }
        decisions[topic] = isAllowed
    }
}
