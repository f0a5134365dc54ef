public import Foundation
import Synchronization
public import WardenCore

/// What one node's threshold rules counted, for the other nodes of a cluster (WardenCluster carries it every
/// second): the windows that reached a tenth of their threshold, with their estimates, and the ones that fired.
/// Behind a load balancer an attacker's guesses spread over the nodes; summed, they fire where they would on one.
public struct SharedCounts: Sendable, Codable, Equatable {
    public struct Window: Sendable, Codable, Equatable {
        public let rule: String
        public let key: String
        public let estimate: Double

        public init(rule: String, key: String, estimate: Double) {
            self.rule = rule
            self.key = key
            self.estimate = estimate
        }
    }

    /// A window that fired: its count starts again on every node.
    public struct Fired: Sendable, Codable, Hashable {
        public let rule: String
        public let key: String

        public init(rule: String, key: String) {
            self.rule = rule
            self.key = key
        }
    }

    public var windows: [Window] = []
    public var fired: [Fired] = []

    public init(windows: [Window] = [], fired: [Fired] = []) {
        self.windows = windows
        self.fired = fired
    }

    public var isEmpty: Bool { windows.isEmpty && fired.isEmpty }
}

extension DefenderService {
    /// How long another node's estimate counts when it does not repeat it (it does every second while it stands).
    public static let sharedCountsLast: TimeInterval = 3
    /// Windows that fired here, kept for the next share at most.
    static let maximumSharedFired = 10_000
    /// The threshold rules, whose counts nodes share.
    static let countedRules: Set<String> = [
        authFailuresRule, floodRule, RuleName.deviceAuthFailures, RuleName.tenantAuthFailures, RuleName.flapping,
        RuleName.abnormalDisconnects, RuleName.policyDenials, RuleName.commandRefusals,
    ]

    /// Starts keeping what fires here for the other nodes (`sharedCounts`).
    public func shareCounts() {
        counts.withLock { $0.isSharing = true }
    }

    /// What to tell the other nodes now: every window whose estimate is at least a tenth of its threshold, and
    /// what fired since the last call. Other nodes' words gone stale are dropped meanwhile.
    public func sharedCounts(at now: Date) -> SharedCounts {
        counts.withLock { counts in
            var shared = SharedCounts(fired: counts.fired)
            counts.fired = []
            for (rule, windows) in counts.windows {
                for (key, window) in windows {
                    let estimate = window.estimate(at: now)
                    if estimate > 0, estimate * 10 >= Double(window.threshold) {
                        shared.windows.append(.init(rule: rule, key: key, estimate: estimate))
                    }
                }
            }
            for (rule, keys) in counts.elsewhere {
                let kept = keys.compactMapValues { nodes in
                    let fresh = nodes.filter { $0.value.until > now }
                    return fresh.isEmpty ? nil : fresh
                }
                counts.elsewhere[rule] = kept.isEmpty ? nil : kept
            }
            return shared
        }
    }

    /// Takes another node's word: its estimates count with this node's own for `sharedCountsLast`, and what fired
    /// there starts again here. Only the rules this node counts are taken, at most `maximumTrackedSources` sources
    /// per rule, each estimate between nothing and a billion.
    public func takeCounts(_ shared: SharedCounts, from origin: UUID, at now: Date) {
        let limit = settings.maximumTrackedSources
        counts.withLock { counts in
            for fired in shared.fired {
                counts.windows[fired.rule]?[fired.key] = nil
                counts.elsewhere[fired.rule]?[fired.key] = nil
            }
            for window in shared.windows where Self.countedRules.contains(window.rule) {
                guard window.estimate.isFinite, window.estimate > 0 else { continue }
                if counts.elsewhere[window.rule]?[window.key] == nil,
                    (counts.elsewhere[window.rule]?.count ?? 0) >= limit
                {
                    continue
                }
                counts.elsewhere[window.rule, default: [:]][window.key, default: [:]][origin] = (
                    min(window.estimate, 1e9), now.addingTimeInterval(Self.sharedCountsLast)
                )
            }
        }
    }
}
