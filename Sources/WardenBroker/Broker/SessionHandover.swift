public import NIOCore
import Synchronization
public import WardenCore
import WardenStore

/// How sessions move between the nodes of a cluster (WardenCluster installs one; docs/architecture.md, "Several
/// nodes"): a CONNECT that resumes a session this node does not hold waits, before its CONNACK, for `takeOver`;
/// a connection that starts a session here announces it with `claimed`.
public protocol SessionHandover: Sendable {
    /// A connection here took session `key` anew: a node holding it closes its connection and drops its copy
    /// (`Broker.release`). Called under the broker's lock: it only queues.
    func claimed(_ key: SessionKey)
    /// Makes session `key` this node's when another node holds it, or held it and stopped: that node releases
    /// it and commits (`Broker.releaseForMove`), and this broker takes it up from the store (`adoptMoved`).
    /// Returns at once when the store holds no such session; throws when the store cannot be read.
    func takeOver(_ key: SessionKey) async throws
}

extension Broker {
    /// Lets sessions move between this node and the others. A session whose changes the store refused because
    /// its row names another node moved while this node could not hear of it: it is released here too, unless
    /// its claim has not committed yet (then the refused changes were an older copy's, and this is a newer
    /// session taking the row).
    public func install(handover: any SessionHandover) {
        state.withLock { $0.handover = handover }
        persistence?.whenFenced { [weak self] sessions in
            guard let self, let committed = persistence?.committedCount else { return }
            for stored in sessions {
                release(SessionKey(tenantID: stored.tenantID, clientID: stored.clientID)) { session in
                    session.withState { $0.claimTicket.map { $0 <= committed } ?? false }
                }
            }
        }
    }

    /// What must complete before a CONNECT resuming `key` opens it: nil when this node holds the session or
    /// runs alone.
    func moveHere(_ key: SessionKey, on eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        guard let handover = state.withLock({ $0.sessions[key] == nil ? $0.handover : nil }) else { return nil }
        let promise = eventLoop.makePromise(of: Void.self)
        promise.completeWithTask { try await handover.takeOver(key) }
        return promise.futureResult
    }

    /// A connection on another node resumes session `key`: it is released here (`release`), and this returns
    /// once everything the session recorded is committed, for that node to read.
    public func releaseForMove(_ key: SessionKey) async {
        release(key)
        await committedSoFar()
    }

    /// Returns once every change recorded so far is committed.
    public func committedSoFar() async {
        await persistence?.committedSoFar()
    }

    /// Whether another connection would pass `mqtt.max-connections` (checked before a session is moved here
    /// for it, and again when it is counted).
    var isFull: Bool {
        connectionCount.load(ordering: .relaxed) >= configuration.maximumConnections
    }
}
