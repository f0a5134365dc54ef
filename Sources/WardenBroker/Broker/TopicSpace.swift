import NIOCore
import WardenCore
import WardenMQTT

/// A shared subscription group (5.0 §4.8.2), `$share/{name}/{filter}`, within one tenant: each message goes to
/// one of its members, across every node of a cluster.
public struct SharedGroup: Sendable, Hashable {
    public let shareName: String
    public let filter: String

    public init(shareName: String, filter: String) {
        self.shareName = shareName
        self.filter = filter
    }

    /// Groups are the same when their share names and filters are byte for byte, as MQTT compares them (and as
    /// the session's table and the trie hold them).
    public static func == (lhs: SharedGroup, rhs: SharedGroup) -> Bool {
        TopicKey(lhs.shareName) == TopicKey(rhs.shareName) && TopicKey(lhs.filter) == TopicKey(rhs.filter)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(TopicKey(shareName))
        hasher.combine(TopicKey(filter))
    }
}

/// One tenant's topics: its subscriptions, shared subscription groups and retained messages. Tenants never
/// see each other's topics because each has its own space.
struct TopicSpace: Sendable {
    /// Which shared groups a message is offered to: every one it matches (published here), none (another
    /// node's message: the groups have their own copies, see `ClusterLink`), or one.
    enum GroupSelection {
        case all
        case none
        case only(SharedGroup)

        /// Whether plain subscriptions are offered the message too: not for one group's copy.
        var includesPlain: Bool {
            if case .only = self { false } else { true }
        }
    }

    /// The members of one group; each message goes to one of them, round robin, online members first.
    struct Group: Sendable {
        var members: [(session: Session, options: SubscriptionOptions)] = []
        var next = 0
    }

    /// A session and the merged options of its subscriptions that matched one message.
    struct Target {
        let session: Session
        var options: SubscriptionOptions
        var identifiers: [Int]
    }

    /// Messages published into this space, and deliveries made from it, since start.
    var received = 0
    var delivered = 0

    var figures: TenantFigures {
        TenantFigures(
            subscriptions: subscriptions.count + groups.values.reduce(0) { $0 + $1.members.count },
            retained: retained.count, received: received, delivered: delivered)
    }

    private var subscriptions = SubscriptionTrie<Session, SubscriptionOptions>()
    /// Each group under its filter, the group its own subscriber there.
    private var shared = SubscriptionTrie<SharedGroup, SharedGroup>()
    private var groups: [SharedGroup: Group] = [:]
    /// Keyed by the topic's bytes, as MQTT compares topics: `t/K` and `t/\u{212A}` hold a message each.
    private(set) var retained: [TopicKey: Retained] = [:]
    /// The retained messages' topic and payload bytes together (`Retained.bytes`), against the tenant's byte limit.
    private(set) var retainedBytes = 0
    /// The stamps of topics cleared lately, kept on a node of a cluster so that another node's older message
    /// arriving after the clear is not kept: at most as many as the tenant may retain, the oldest go first.
    private var clears: [TopicKey: RetainStamp] = [:]
    /// What was routed in the last moments, for subscriptions installed just after (`Broker.lateDeliveries`).
    var recent = RecentMessages()

    var isEmpty: Bool { subscriptions.count == 0 && groups.isEmpty && retained.isEmpty && clears.isEmpty }

    /// A topic's retained message and its stamp.
    struct Retained: Sendable {
        let message: BrokerMessage
        let stamp: RetainStamp

        /// What it counts against the tenant's byte limit.
        var bytes: Int { message.topic.utf8.count + message.payload.readableBytes }
    }

    /// How much one tenant may retain: topics, and their topic and payload bytes together.
    struct RetainLimit {
        var topics: Int
        var bytes: Int

        static let none = RetainLimit(topics: .max, bytes: .max)
    }

    /// What `retain` did with a message.
    enum Retaining: Equatable {
        /// Kept, or its topic cleared.
        case kept
        /// A new topic would pass the tenant's limit.
        case refused
        /// The topic holds a later message or clear (another node's, which reached this node first).
        case superseded
    }

    /// Adds or replaces `session`'s subscription to `filter`; returns whether it was new.
    mutating func subscribe(_ session: Session, _ filter: TopicFilter, _ options: SubscriptionOptions) -> Bool {
        guard let shareName = filter.shareName else {
            return subscriptions.insert(filter.filter, subscriber: session, value: options)
        }
        let key = SharedGroup(shareName: shareName, filter: filter.filter)
        shared.insert(filter.filter, subscriber: key, value: key)
        if let index = groups[key, default: Group()].members.firstIndex(where: { $0.session === session }) {
            groups[key]?.members[index].options = options
            return false
        }
        groups[key, default: Group()].members.append((session, options))
        return true
    }

    /// Removes `session`'s subscription to `filter`; returns whether it existed.
    mutating func unsubscribe(_ session: Session, _ filter: TopicFilter) -> Bool {
        guard let shareName = filter.shareName else {
            return subscriptions.remove(filter.filter, subscriber: session)
        }
        let key = SharedGroup(shareName: shareName, filter: filter.filter)
        guard let index = groups[key]?.members.firstIndex(where: { $0.session === session }) else { return false }
        groups[key]?.members.remove(at: index)
        if groups[key]?.members.isEmpty == true {
            groups[key] = nil
            shared.remove(filter.filter, subscriber: key)
        }
        return true
    }

    /// Takes `message` in and returns the sessions to offer it to: counts it as received when it was published
    /// here (`receivedHere`), counts what it is offered to and keeps it for late subscriptions within `recent`'s
    /// window and bytes, unless it is a `$SYS` figure (`isSystem`). One access to the space for all of it, as it
    /// runs for every message.
    mutating func route(
        _ message: BrokerMessage, groups: GroupSelection, served: inout [SharedGroup], isSystem: Bool,
        receivedHere: Bool, recent window: (TimeAmount, Int)?, now: NIODeadline
    ) -> [Target] {
        if receivedHere { received += 1 }
        let targets = targets(for: message, groups: groups, served: &served)
        guard !isSystem else { return targets }
        delivered += targets.count
        if let (window, byteLimit) = window {
            recent.remember(message, readAt: now, window: window, byteLimit: byteLimit)
        }
        return targets
    }

    /// Every session that should receive `message`, once each, with the options of its matching
    /// subscriptions merged: the highest QoS, every subscription identifier (§3.3.4, [MQTT-3.3.4-3]).
    /// No Local subscriptions skip their own session's messages ([MQTT-3.8.3-3]).
    /// `groups` says which shared groups are offered the message; `served` gets those that took it.
    mutating func targets(for message: BrokerMessage, groups: GroupSelection, served: inout [SharedGroup])
        -> [Target]
    {
        var targets: [Target] = []
        if groups.includesPlain {
            subscriptions.forEachMatch(message.topic) { session, options in
                if options.noLocal, session.key == message.publisher { return }
                targets.append(
                    Target(session: session, options: options, identifiers: options.identifier.map { [$0] } ?? []))
            }
        }
        var matchedGroups: [SharedGroup] = []
        switch groups {
        case .none: break
        case .all: shared.forEachMatch(message.topic) { _, key in matchedGroups.append(key) }
        case .only(let group):
            shared.forEachMatch(message.topic) { _, key in if key == group { matchedGroups.append(key) } }
        }
        for key in matchedGroups {
            if let member = pickMember(of: key) {
                served.append(key)
                targets.append(
                    Target(
                        session: member.session, options: member.options,
                        identifiers: member.options.identifier.map { [$0] } ?? []))
            }
        }
        return targets.count > 1 ? Self.mergingDuplicates(targets) : targets
    }

    /// One target per session, in first-match order.
    private static func mergingDuplicates(_ targets: [Target]) -> [Target] {
        var merged: [Target] = []
        merged.reserveCapacity(targets.count)
        var positions: [ObjectIdentifier: Int] = [:]
        for target in targets {
            if let index = positions[ObjectIdentifier(target.session)] {
                merged[index].options.qos = max(merged[index].options.qos, target.options.qos)
                merged[index].options.retainAsPublished =
                    merged[index].options.retainAsPublished || target.options.retainAsPublished
                merged[index].identifiers += target.identifiers
            } else {
                positions[ObjectIdentifier(target.session)] = merged.count
                merged.append(target)
            }
        }
        return merged
    }

    /// The next member in turn, preferring one with a live connection.
    private mutating func pickMember(of key: SharedGroup) -> (session: Session, options: SubscriptionOptions)? {
        guard var group = groups[key], !group.members.isEmpty else { return nil }
        defer { groups[key] = group }
        let count = group.members.count
        for offset in 0..<count {
            let index = (group.next + offset) % count
            if group.members[index].session.sink != nil {
                group.next = (index + 1) % count
                return group.members[index]
            }
        }
        let member = group.members[group.next % count]
        group.next = (group.next + 1) % count
        return member
    }

    /// Stores or clears (empty payload, [MQTT-3.3.1-10]) the retained message for its topic, unless the topic holds
    /// a later one. `keptClears`: how many clears' stamps are kept at most (a node of a cluster; nil: none).
    /// A message published here (`isLocal`) is stamped after what the topic holds whatever the clocks say (a stamp
    /// from a node whose clock is ahead), so that it wins here and on every node; `stamp` is then the one it got.
    mutating func retain(
        _ message: BrokerMessage, stamp: inout RetainStamp, isLocal: Bool, limit: RetainLimit, keptClears: Int?
    ) -> Retaining {
        let topic = TopicKey(message.topic)
        if let held = retained[topic]?.stamp ?? clears[topic], stamp <= held {
            guard isLocal else { return .superseded }
            stamp = RetainStamp(time: held.time == .max ? .max : held.time + 1, node: stamp.node)
            if stamp <= held { return .superseded }
        }
        let held = retained[topic]?.bytes ?? 0
        if message.payload.readableBytes == 0 {
            retained[topic] = nil
            retainedBytes -= held
            if let keptClears { keepClear(topic, stamp, limit: keptClears) }
            return .kept
        }
        let bytes = message.topic.utf8.count + message.payload.readableBytes
        // A replacement no larger than what it replaces is always taken (a tenant may be over a lowered limit).
        guard retained[topic] != nil || retained.count < limit.topics,
            bytes <= held || bytes - held <= limit.bytes - retainedBytes
        else { return .refused }
        clears[topic] = nil
        retained[topic] = Retained(message: message.withOwnPayload(), stamp: stamp)
        retainedBytes += bytes - held
        return .kept
    }

    private mutating func keepClear(_ topic: TopicKey, _ stamp: RetainStamp, limit: Int) {
        clears[topic] = stamp
        // Past the limit the older half goes: one sort per half a limit of clears.
        let most = max(limit, 1)
        guard clears.count > most else { return }
        clears = Dictionary(
            uniqueKeysWithValues: clears.sorted { $0.value > $1.value }.prefix(most / 2).map { ($0.key, $0.value) })
    }

    /// Forgets the retained messages stamped before `time` whose topics `kept` does not name (a node of a cluster
    /// reading the store again: their clears were missed, and are gone from the store too).
    /// `$` topics (the broker's own `$SYS` figures) are never stored, and stay.
    mutating func forgetRetained(stampedBefore time: Int64, unless kept: Set<TopicKey>) {
        retained = retained.filter { topic, entry in
            entry.stamp.time >= time || kept.contains(topic) || topic.topic.utf8.first == UInt8(ascii: "$")
        }
        retainedBytes = retained.values.reduce(0) { $0 + $1.bytes }
    }

    /// The retained messages `filter` matches; none for shared subscriptions (5.0 §4.8.2).
    func retainedMessages(matching filter: TopicFilter) -> [BrokerMessage] {
        guard filter.shareName == nil else { return [] }
        if !filter.hasWildcards { return retained[TopicKey(filter.filter)].map { [$0.message] } ?? [] }
        return retained.values.lazy.map(\.message).filter { filter.matches($0.topic) }
    }
}
