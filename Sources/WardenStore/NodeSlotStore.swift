public import Foundation

/// The slots the nodes of one store lease while they run (`SequenceNumbers`): a node renews its lease every
/// few seconds; one not renewed for `staleAfter` is free for the next node that starts. A shared store judges
/// leases by its own clock (PostgreSQL's `now()`, whatever `now` says); one node's store by the `now` given.
public protocol NodeSlotStore: Sendable {
    /// Leases the lowest slot below `count` that no live node holds for `node` (its identity for this run),
    /// named `name` (the name its sessions are stored under); nil when every one is held.
    func leaseNodeSlot(node: String, name: String, count: Int, now: Date, staleAfter: TimeInterval) async throws
        -> Int?
    /// Renews `node`'s lease; false when the slot is no longer the node's (it went stale and was taken).
    func renewNodeSlot(_ slot: Int, node: String, now: Date) async throws -> Bool
    /// The slots live nodes hold (renewed within `staleAfter`), lowest first.
    func liveNodeSlots(now: Date, staleAfter: TimeInterval) async throws -> [Int]
    /// Gives the slot back (a clean stop).
    func releaseNodeSlot(_ slot: Int, node: String) async throws
    /// What nodes that stopped and hold no live slot left: their stored sessions still marked connected count as
    /// disconnected from `now`, and those past their expiry are deleted with their subscriptions and messages.
    /// Nothing while a live node's lease has no name (a node of an earlier version, during a rolling upgrade:
    /// its sessions cannot be told from a stopped node's). Returns how many were deleted.
    func expireSessionsOfStoppedNodes(now: Date, staleAfter: TimeInterval) async throws -> Int
}

extension NodeSlotStore {
    /// The lowest number below `count` not in `held`.
    static func lowestFree(_ held: [Int], count: Int) -> Int? {
        let taken = Set(held)
        return (0..<count).first { !taken.contains($0) }
    }
}
