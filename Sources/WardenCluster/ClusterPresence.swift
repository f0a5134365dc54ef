public import Foundation
public import Logging
import NIOCore
import Synchronization
public import WardenCore
public import WardenHub
public import WardenNATS

/// Presence across the nodes (docs/architecture.md, "Several nodes"): the node a portal page or an API request
/// arrives at asks every other node (`warden.presence`) what it knows of a tenant's connections and of the devices
/// on the page; each answers for itself to the asking node's reply subject, and the answers are merged. The
/// question ends when every other live node answered or after `timeout`, with what came: a node that does not
/// answer in time is left out, as its devices would be after a crash.
public final class ClusterPresence: PresenceRelay {
    struct Question: Codable {
        let origin: UUID
        let id: UInt64
        let tenant: String
        let devices: [String]
        let countingTenant: Bool
    }

    struct Answer: Codable {
        let origin: UUID
        let id: UInt64
        let presence: Presence
    }

    private let node: UUID
    private let nats: NATSClient
    private let presence: DevicePresence
    private let otherNodes: @Sendable () -> Int
    private let recount: @Sendable () async -> Int
    private let timeout: Duration
    private let logger: Logger
    private let pending = PendingReplies<Presence>()
    /// The last count of the other nodes from the store, kept for a second: each question would read it again.
    private let lastCount = Mutex<(nodes: Int, at: ContinuousClock.Instant)?>(nil)
    /// What has come for each question still waiting, and from which nodes (each counts once).
    private let gathered = Mutex<[UInt64: (presence: Presence, from: Set<UUID>)]>([:])
    static let subject = "warden.presence"

    /// `otherNodes` counts the other live nodes as last known; `recount` counts them afresh from the store, before
    /// a question is ended by the answers it has (a node started since the last count may hold devices) or, with
    /// none known, asked at all.
    public init(
        node: UUID, nats: NATSClient, presence: DevicePresence, otherNodes: @escaping @Sendable () -> Int,
        recount: @escaping @Sendable () async -> Int, timeout: Duration = .milliseconds(500), logger: Logger
    ) {
        self.node = node
        self.nats = nats
        self.presence = presence
        self.otherNodes = otherNodes
        self.recount = recount
        self.timeout = timeout
        self.logger = logger
    }

    private var replies: String { "warden.presence.replies.\(node.uuidString)" }

    /// Answers other nodes' questions and takes the answers to this node's.
    public func start() {
        nats.subscribe(Self.subject) { [weak self] message in self?.serve(message) }
        nats.subscribe(replies) { [weak self] message in self?.take(message) }
        presence.install(relay: self)
    }

    public func elsewhere(in tenantID: TenantID, of deviceIDs: [String], countingTenant: Bool) async -> Presence {
        var expected = otherNodes()
        if expected == 0 { expected = await recounted() }
        guard expected > 0 else { return Presence() }
        let asked = Set(deviceIDs)
        let question = QuestionID()
        let answer = try? await pending.request(
            timeout: timeout, expectedPartials: expected, unsent: .success(Presence()),
            expired: { [weak self] in
                .success(
                    question.value.withLock { $0 }.flatMap { id in self?.gathered.withLock { $0[id]?.presence } }
                        ?? Presence())
            },
            send: { id in
                question.value.withLock { $0 = id }
                gathered.withLock { $0[id] = (Presence(), []) }
                let question = Question(
                    origin: node, id: id, tenant: tenantID.rawValue, devices: deviceIDs, countingTenant: countingTenant)
                guard let json = try? JSONEncoder().encode(question) else { return false }
                return nats.publish(Self.subject, payload: ByteBuffer(bytes: json), replyTo: replies)
            })
        if let id = question.value.withLock({ $0 }) { gathered.withLock { $0[id] = nil } }
        guard var merged = answer else { return Presence() }
        // Only what was asked: another node's answer names nothing else.
        merged.connected.formIntersection(asked)
        merged.lastActivity = merged.lastActivity.filter { asked.contains($0.key) }
        return merged
    }

    /// The other nodes counted from the store, at most a second ago.
    private func recounted() async -> Int {
        let now = ContinuousClock.now
        if let last = lastCount.withLock({ $0 }), now - last.at < .seconds(1) { return last.nodes }
        let nodes = await recount()
        lastCount.withLock { $0 = (nodes, now) }
        return nodes
    }

    /// Another node's answer to one of this node's questions.
    private func take(_ message: NATSMessage) {
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(message.payload.readableBytesView)),
            answer.origin != node,
            gathered.withLock({ gathered -> Bool in
                // A copy of a node's answer, or a second one, counts once.
                guard gathered[answer.id]?.from.insert(answer.origin).inserted == true else { return false }
                gathered[answer.id]?.presence.merge(answer.presence)
                return true
            }),
            pending.partialAnswer(answer.id)
        else { return }
        Task { [self] in
            guard pending.expectPartials(answer.id, atLeast: await recounted()) else { return }
            pending.finish(answer.id, .success(gathered.withLock { $0[answer.id]?.presence } ?? Presence()))
        }
    }

    /// Another node's question: this node answers for the connections it holds.
    private func serve(_ message: NATSMessage) {
        guard let replyTo = message.replyTo,
            let question = try? JSONDecoder().decode(Question.self, from: Data(message.payload.readableBytesView)),
            question.origin != node, let tenantID = try? TenantID(question.tenant)
        else { return }
        let here = presence.here(
            in: tenantID, of: Array(question.devices.prefix(DevicePresence.maximumDevicesAsked)),
            countingTenant: question.countingTenant)
        guard let json = try? JSONEncoder().encode(Answer(origin: node, id: question.id, presence: here)) else {
            return
        }
        nats.publish(replyTo, payload: ByteBuffer(bytes: json))
    }
}

/// The id `PendingReplies` gave a question, for its timeout to read what has come.
private final class QuestionID: Sendable {
    let value = Mutex<UInt64?>(nil)
}
