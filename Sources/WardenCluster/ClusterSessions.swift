import CoreMetrics
public import Foundation
public import Logging
import NIOCore
import Synchronization
public import WardenBroker
public import WardenCore
public import WardenNATS
public import WardenStore

/// Persistent sessions across nodes (docs/architecture.md, "Several nodes"). A session lives on one node at a
/// time, the one its row in the store names. A CONNECT on another node that resumes it asks that node to
/// release it (`warden.node.<name>.release`): the holder answers at once that it is releasing, closes its
/// connection (5.0: 0x8E), drops its copy and answers again once everything the session recorded is
/// committed; the asking node then reads the session from the store, queue and in-flight messages included,
/// takes it up and commits its row before the CONNACK (session present). A holder that does not answer within
/// `answerTimeout` has stopped (killed): its session is taken from the store as it last committed it. A
/// request NATS cannot carry, a busy holder, or one that does not commit within `commitTimeout` refuses the
/// CONNECT (`cluster.session_unavailable`): the session stays where it is. A connection that starts a session
/// anew announces it on `warden.sessions`, and every node holding that ClientId drops its copy.
public final class ClusterSessions: SessionHandover {
    /// A session a connection on `origin` took.
    struct Claim: Codable {
        let origin: UUID
        let tenant: String
        let client: String
    }

    /// A node asking the holder of a session to release it; answered with `Answer`s.
    struct Release: Codable {
        let origin: UUID
        let id: UInt64
        let tenant: String
        let client: String
    }

    struct Answer: Codable {
        enum Phase: String, Codable {
            /// Alive and on it: the connection is closed, the copy dropped, the commit on its way.
            case releasing
            /// Everything the session recorded is committed.
            case released
            /// Too many releases at once: the session stays there.
            case busy
        }

        let id: UInt64
        let phase: Phase
    }

    /// How a request to release a session ended.
    enum Outcome {
        case released
        /// No answer: the holder has stopped.
        case silent
    }

    private let node: UUID
    /// This node's name: the one the store's session rows name (`cluster.node-name`).
    private let name: String
    private let nats: NATSClient
    private let broker: Broker
    private let store: any DeviceStateStore
    private let logger: Logger
    private let pending = PendingReplies<Outcome>()
    /// Releases being committed for other nodes at once; past it a request is answered busy.
    static let maximumReleasing = 10_000
    private let releasing = Atomic(0)
    /// What else takes a moved session's last state from the store before its CONNACK (the hub's twin copy).
    private let afterMove = Mutex<(@Sendable (SessionKey) async -> Void)?>(nil)
    /// How long a node waits for the holder's first answer before it takes the session from the store.
    static let answerTimeout = Duration.seconds(2)
    /// How long a holder that answered may take to commit the session.
    static let commitTimeout = Duration.seconds(10)
    /// Rounds of asking when the session moved to yet another node in the meantime.
    static let maximumRounds = 3

    public init(
        node: UUID, name: String, nats: NATSClient, broker: Broker, store: any DeviceStateStore, logger: Logger
    ) {
        self.node = node
        self.name = name
        self.nats = nats
        self.broker = broker
        self.store = store
        self.logger = logger
    }

    private var replies: String { "warden.replies.\(node.uuidString).sessions" }

    /// Starts hearing other nodes' claims and release requests, and moving sessions to this broker.
    public func start() {
        nats.subscribe(ClusterSubject.sessions) { [weak self] message in self?.receiveClaim(message) }
        nats.subscribe(ClusterSubject.release(node: name)) { [weak self] message in self?.serveRelease(message) }
        nats.subscribe(replies) { [weak self] message in self?.take(message) }
        broker.install(handover: self)
    }

    /// Runs `body` for each session moved here, once the session is taken up and before its CONNACK: what the
    /// other node committed before it let the session go is in the store by then.
    func whenMoved(_ body: @escaping @Sendable (SessionKey) async -> Void) {
        afterMove.withLock { $0 = body }
    }

    public func claimed(_ key: SessionKey) {
        let claim = Claim(origin: node, tenant: key.tenantID.rawValue, client: key.clientID)
        guard let json = try? JSONEncoder().encode(claim) else { return }
        nats.publish(ClusterSubject.sessions, payload: ByteBuffer(bytes: json))
    }

    private func receiveClaim(_ message: NATSMessage) {
        guard let claim = try? JSONDecoder().decode(Claim.self, from: Data(message.payload.readableBytesView)),
            claim.origin != node, let tenantID = try? TenantID(claim.tenant)
        else { return }
        broker.release(SessionKey(tenantID: tenantID, clientID: claim.client))
    }

    public func takeOver(_ key: SessionKey) async throws {
        var snapshot = try await store.loadMQTTSession(tenantID: key.tenantID, clientID: key.clientID)
        // No node named: a row from before the cluster, nobody to ask. This node's own row without the session in
        // memory: one released or ending here a moment ago; what it recorded is committed first.
        var outcome = "unowned"
        if snapshot.sessions.first?.node == name {
            await broker.committedSoFar()
            snapshot = try await store.loadMQTTSession(tenantID: key.tenantID, clientID: key.clientID)
            outcome = "own"
        }
        var asked: Set<String> = []
        // A node that took the session meanwhile is asked in turn.
        while let holder = snapshot.sessions.first?.node, holder != name, !asked.contains(holder),
            asked.count < Self.maximumRounds
        {
            asked.insert(holder)
            switch try await askRelease(of: key, from: holder) {
            case .released:
                outcome = "released"
            case .silent:
                outcome = "unanswered"
                logger.warning(
                    "Took a session over from a node that did not answer.",
                    metadata: ["node": "\(holder)", "client.id": "\(key.clientID)"])
            }
            snapshot = try await store.loadMQTTSession(tenantID: key.tenantID, clientID: key.clientID)
        }
        guard !snapshot.sessions.isEmpty, await broker.adoptMoved(snapshot) else { return }
        await afterMove.withLock { $0 }?(key)
        Counter(label: "warden_cluster_sessions_moved_total", dimensions: [("outcome", outcome)]).increment()
        // A node still holding a copy without owning the row (a claim it missed) drops it.
        claimed(key)
    }

    /// Asks `holder` to release session `key`: released once it committed; silent when it said nothing within
    /// `answerTimeout`; `cluster.session_unavailable` when the request could not be sent, the holder is busy, or
    /// it did not commit within `commitTimeout`.
    private func askRelease(of key: SessionKey, from holder: String) async throws -> Outcome {
        try await pending.request(
            timeout: Self.answerTimeout,
            unsent: .failure(
                WardenError(.clusterSessionUnavailable, "The request to move the session could not be sent.")),
            expired: { .success(.silent) },
            send: { id in
                let request = Release(origin: node, id: id, tenant: key.tenantID.rawValue, client: key.clientID)
                guard let json = try? JSONEncoder().encode(request) else { return false }
                return nats.publish(
                    ClusterSubject.release(node: holder), payload: ByteBuffer(bytes: json), replyTo: replies)
            })
    }

    /// The holder's answers to one of this node's requests.
    private func take(_ message: NATSMessage) {
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(message.payload.readableBytesView))
        else { return }
        switch answer.phase {
        case .releasing:
            pending.extend(answer.id, by: Self.commitTimeout) {
                .failure(WardenError(.clusterSessionUnavailable, "The session's node did not commit it in time."))
            }
        case .released:
            pending.finish(answer.id, .success(.released))
        case .busy:
            pending.finish(
                answer.id,
                .failure(WardenError(.clusterSessionUnavailable, "The session's node is too busy to move it.")))
        }
    }

    /// Another node's request: answered at once, then again once the session went from here and its last
    /// changes are committed.
    private func serveRelease(_ message: NATSMessage) {
        guard let replyTo = message.replyTo,
            let request = try? JSONDecoder().decode(Release.self, from: Data(message.payload.readableBytesView)),
            request.origin != node, let tenantID = try? TenantID(request.tenant)
        else { return }
        guard releasing.wrappingAdd(1, ordering: .relaxed).newValue <= Self.maximumReleasing else {
            releasing.wrappingSubtract(1, ordering: .relaxed)
            answer(Answer(id: request.id, phase: .busy), to: replyTo)
            return
        }
        answer(Answer(id: request.id, phase: .releasing), to: replyTo)
        Task { [self] in
            defer { releasing.wrappingSubtract(1, ordering: .relaxed) }
            await broker.releaseForMove(SessionKey(tenantID: tenantID, clientID: request.client))
            answer(Answer(id: request.id, phase: .released), to: replyTo)
        }
    }

    private func answer(_ answer: Answer, to subject: String) {
        guard let json = try? JSONEncoder().encode(answer) else { return }
        nats.publish(subject, payload: ByteBuffer(bytes: json))
    }
}
