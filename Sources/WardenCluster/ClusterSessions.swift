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
/// release it (`warden.node.<name>.release`): the holder closes its connection (5.0: 0x8E), drops its copy and
/// answers once everything the session recorded is committed; the asking node then reads the session from
/// the store, queue and in-flight messages included, and takes it up before its CONNACK (session present).
/// A holder that does not answer within `releaseTimeout` has stopped (killed, cut off): its session is taken
/// from the store as it last committed it. A connection that starts a session anew announces it on
/// `warden.sessions`, and every node holding that ClientId drops its copy.
public final class ClusterSessions: SessionHandover {
    /// A session a connection on `origin` took.
    struct Claim: Codable {
        let origin: UUID
        let tenant: String
        let client: String
    }

    /// A node asking the holder of a session to release it; answered with `Released`.
    struct Release: Codable {
        let origin: UUID
        let id: UInt64
        let tenant: String
        let client: String
    }

    struct Released: Codable {
        let id: UInt64
    }

    private let node: UUID
    /// This node's name: the one the store's session rows name (`cluster.node-name`).
    private let name: String
    private let nats: NATSClient
    private let broker: Broker
    private let store: any DeviceStateStore
    private let logger: Logger
    private let pending = PendingReplies<Bool>()
    /// Releases being committed for other nodes at once; past it a request goes unanswered (the asking node
    /// then takes the session as the store has it).
    static let maximumReleasing = 10_000
    private let releasing = Atomic(0)
    /// How long a node waits for the holder to answer before it takes the session from the store.
    static let releaseTimeout = Duration.seconds(2)
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
        // No node named: a row from before the cluster, nobody to ask.
        var outcome = "unowned"
        var asked: Set<String> = []
        // A node that took the session meanwhile is asked in turn.
        while let holder = snapshot.sessions.first?.node, holder != name, !asked.contains(holder),
            asked.count < Self.maximumRounds
        {
            asked.insert(holder)
            let isReleased = await askRelease(of: key, from: holder)
            outcome = isReleased ? "released" : "unanswered"
            if !isReleased {
                logger.warning(
                    "Took a session over from a node that did not answer.",
                    metadata: ["node": "\(holder)", "client.id": "\(key.clientID)"])
            }
            snapshot = try await store.loadMQTTSession(tenantID: key.tenantID, clientID: key.clientID)
        }
        // No row, or this node's (ending here): nothing to move.
        guard let stored = snapshot.sessions.first, stored.node != name, broker.adoptMoved(snapshot) else { return }
        Counter(label: "warden_cluster_sessions_moved_total", dimensions: [("outcome", outcome)]).increment()
        // A node still holding a copy without owning the row (a claim it missed) drops it.
        claimed(key)
    }

    /// Asks `holder` to release session `key`; true once it answered that it did, false after `releaseTimeout`
    /// of silence (or when the request could not be sent).
    private func askRelease(of key: SessionKey, from holder: String) async -> Bool {
        let released = try? await pending.request(
            timeout: Self.releaseTimeout, unsent: .success(false), expired: { .success(false) },
            send: { id in
                let request = Release(origin: node, id: id, tenant: key.tenantID.rawValue, client: key.clientID)
                guard let json = try? JSONEncoder().encode(request) else { return false }
                return nats.publish(
                    ClusterSubject.release(node: holder), payload: ByteBuffer(bytes: json), replyTo: replies)
            })
        return released ?? false
    }

    /// The holder's answer to one of this node's requests.
    private func take(_ message: NATSMessage) {
        guard let answer = try? JSONDecoder().decode(Released.self, from: Data(message.payload.readableBytesView))
        else { return }
        pending.finish(answer.id, .success(true))
    }

    /// Another node's request: the session goes from here, and the answer follows its last commit.
    private func serveRelease(_ message: NATSMessage) {
        guard let replyTo = message.replyTo,
            let request = try? JSONDecoder().decode(Release.self, from: Data(message.payload.readableBytesView)),
            request.origin != node, let tenantID = try? TenantID(request.tenant)
        else { return }
        guard releasing.wrappingAdd(1, ordering: .relaxed).newValue <= Self.maximumReleasing else {
            releasing.wrappingSubtract(1, ordering: .relaxed)
            return
        }
        Task { [self] in
            defer { releasing.wrappingSubtract(1, ordering: .relaxed) }
            await broker.releaseForMove(SessionKey(tenantID: tenantID, clientID: request.client))
            guard let json = try? JSONEncoder().encode(Released(id: request.id)) else { return }
            nats.publish(replyTo, payload: ByteBuffer(bytes: json))
        }
    }
}
