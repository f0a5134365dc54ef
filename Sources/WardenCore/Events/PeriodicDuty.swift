import Synchronization

/// Whether this node does the periodic jobs that one node of a cluster does for all (telemetry and audit
/// retention, expired refresh tokens, the Defender's scheduled audit): always for a node alone; in a cluster,
/// the live node with the lowest slot (`NodeSlotLease.isFirst`), decided anew at each run. The jobs are
/// idempotent, so a moment when two nodes both think they are first, or none does, costs a repeated or a
/// delayed run, never a wrong one.
public final class PeriodicDuty: Sendable {
    private let decide = Mutex<(@Sendable () -> Bool)?>(nil)

    public init() {}

    /// Whether this node does them now.
    public var isThisNode: Bool {
        decide.withLock { $0 }?() ?? true
    }

    /// From now on `decide` says whether this node does them (a cluster's node, once its slot is leased).
    public func assign(_ decide: @escaping @Sendable () -> Bool) {
        self.decide.withLock { $0 = decide }
    }
}
