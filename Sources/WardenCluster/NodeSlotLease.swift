import CoreMetrics
public import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization
public import WardenCore
public import WardenStore

/// This node's slot among the nodes of one store (`SequenceNumbers`), leased at start-up and renewed every
/// `renewal` until the node stops, when it is given back. A lease not renewed for `staleAfter` (a node killed,
/// or cut off from the store that long) is free for the next node that starts; if that happened to this node,
/// its numbers could repeat another's, so it stops (a supervisor starts it again, with a fresh slot). The node
/// with the lowest live slot also settles, once a minute, the sessions that stopped nodes left in the store
/// (`expireSessionsOfStoppedNodes`): nobody else would ever expire those whose clients do not come back.
public final class NodeSlotLease: Service {
    public let slot: Int
    private let node: String
    private let name: String
    private let store: any NodeSlotStore
    private let clock: any WardenClock
    private let logger: Logger
    static let renewal: Duration = .seconds(10)
    static let staleAfter: TimeInterval = 60
    /// Renewals between two settlements of stopped nodes' sessions.
    static let renewalsPerSessionSweep = 6
    private let expiredSessions = Counter(label: "warden_cluster_orphaned_sessions_expired_total")
    /// The slots live nodes held at the last renewal.
    private let live = Mutex<[Int]>([])

    private init(
        slot: Int, node: String, name: String, store: any NodeSlotStore, clock: any WardenClock, logger: Logger
    ) {
        self.slot = slot
        self.node = node
        self.name = name
        self.store = store
        self.clock = clock
        self.logger = logger
    }

    /// Leases the lowest free slot for `node` (this run's identity) named `name` (`cluster.node-name`);
    /// `cluster.full` when 1,024 live nodes hold them all.
    public static func lease(
        node: String, name: String, store: any NodeSlotStore, clock: any WardenClock, logger: Logger
    ) async throws -> NodeSlotLease {
        // total: 1,024 fits.
        let count = Int(SequenceNumbers.slotCount)
        guard
            let slot = try await store.leaseNodeSlot(
                node: node, name: name, count: count, now: clock.now(), staleAfter: staleAfter)
        else {
            throw WardenError(
                .clusterSlotUnavailable, "All \(count) node slots of the store are held by running nodes.")
        }
        logger.info("Leased a node slot.", metadata: ["slot": "\(slot)"])
        let lease = NodeSlotLease(slot: slot, node: node, name: name, store: store, clock: clock, logger: logger)
        let live = try await store.liveNodeSlots(now: clock.now(), staleAfter: staleAfter)
        lease.live.withLock { $0 = live }
        return lease
    }

    /// Whether this node settles what `sequence` stands for when one node must (a cloud-to-device message's
    /// expiry): the node that numbered it, or, when that node is gone, the live node with the lowest slot.
    public func settles(_ sequence: Int64) -> Bool {
        // total: the remainder of a division by 1,024 fits any Int.
        let owner = Int(
            truncatingIfNeeded: ((sequence % SequenceNumbers.slotCount) + SequenceNumbers.slotCount)
                % SequenceNumbers.slotCount)
        if owner == slot { return true }
        let live = live.withLock { $0 }
        return !live.contains(owner) && (live.first ?? slot) >= slot
    }

    /// Settles the sessions stopped nodes left (see the type).
    func expireSessionsOfStoppedNodes() async throws {
        let count = try await store.expireSessionsOfStoppedNodes(now: clock.now(), staleAfter: Self.staleAfter)
        expiredSessions.increment(by: count)
        if count > 0 { logger.info("Expired sessions of stopped nodes.", metadata: ["sessions": "\(count)"]) }
    }

    /// Whether this node holds the lowest live slot (at the last renewal): the node on `PeriodicDuty`.
    public var isFirst: Bool {
        let slot = slot
        return live.withLock { ($0.min() ?? slot) >= slot }
    }

    /// How many other nodes held a slot at the last renewal.
    public var otherNodes: Int { live.withLock { $0.filter { $0 != slot }.count } }

    /// How many other nodes hold a slot now, read from the store (the last count when it cannot be read).
    public func recountOtherNodes() async -> Int {
        if let slots = try? await store.liveNodeSlots(now: clock.now(), staleAfter: Self.staleAfter) {
            live.withLock { $0 = slots }
        }
        return otherNodes
    }

    public func run() async throws {
        var renewals = 0
        // Cancelled (the group failing) or shut down gracefully: either ends the loop; nothing spins.
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.renewal) }
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { break }
            do {
                guard try await store.renewNodeSlot(slot, node: node, now: clock.now()) else {
                    logger.critical("This node's slot went stale and another node took it; stopping.")
                    throw WardenError(.clusterSlotUnavailable, "Node slot \(slot) was taken by another node.")
                }
                let slots = try await store.liveNodeSlots(now: clock.now(), staleAfter: Self.staleAfter)
                live.withLock { $0 = slots }
                renewals += 1
                if renewals % Self.renewalsPerSessionSweep == 0, isFirst { try await expireSessionsOfStoppedNodes() }
            } catch let error as WardenError where error.code == .clusterSlotUnavailable {
                throw error
            } catch {
                logger.warning("Could not renew the node slot.", metadata: ["error": "\(error)"])
            }
        }
        try? await store.releaseNodeSlot(slot, node: node)
    }
}
