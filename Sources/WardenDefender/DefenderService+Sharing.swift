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

    /// One rule's window of one source (in `fired`: its count starts again on every node).
    public struct Key: Sendable, Codable, Hashable {
        public let rule: String
        public let key: String

        public init(rule: String, key: String) {
            self.rule = rule
            self.key = key
        }
    }

    public var windows: [Window] = []
    public var fired: [Key] = []

    public init(windows: [Window] = [], fired: [Key] = []) {
        self.windows = windows
        self.fired = fired
    }

    public var isEmpty: Bool { windows.isEmpty && fired.isEmpty }
}

extension DefenderService {
    /// How long another node's estimate counts when it does not repeat it (it does every second while it stands).
    public static let sharedCountsLast: TimeInterval = 3
    /// Windows that fired here, kept for the next share at most; windows shared at once, the highest first; other
    /// nodes whose word about one source is taken.
    static let maximumSharedFired = 10_000
    static let maximumSharedWindows = 10_000
    static let maximumNodesPerSource = 32
    /// The longest source a node's word may name (a tenant and a device id, or an address, are far shorter): the
    /// words come from the cluster's bus, and the table keeps them for seconds.
    static let maximumSharedKeyBytes = 512
    /// The threshold rules, whose counts nodes share.
    static let countedRules: Set<String> = [
        authFailuresRule, floodRule, RuleName.deviceAuthFailures, RuleName.tenantAuthFailures, RuleName.flapping,
        RuleName.abnormalDisconnects, RuleName.policyDenials, RuleName.commandRefusals,
    ]

    /// Starts keeping what fires here for the other nodes (`sharedCounts`), as `node`.
    public func shareCounts(as node: UUID) {
        counts.withLock { $0.node = node }
    }

    /// What to tell the other nodes now: every window whose estimate is at least a tenth of its threshold (the
    /// highest `maximumSharedWindows`), and what fired since the last call. Every tenth call also drops other
    /// nodes' words gone stale.
    public func sharedCounts(at now: Date) -> SharedCounts {
        counts.withLock { counts in
            var shared = SharedCounts(fired: counts.fired)
            counts.fired = []
            for window in counts.nearThreshold.keys {
                guard let count = counts.windows[window.rule]?[window.key],
                    case let estimate = count.estimate(at: now), estimate > 0,
                    estimate * 10 >= Double(count.threshold)
                else {
                    counts.nearThreshold[window] = nil
                    continue
                }
                shared.windows.append(.init(rule: window.rule, key: window.key, estimate: estimate))
                counts.nearThreshold[window]?.shared = estimate
            }
            if shared.windows.count > Self.maximumSharedWindows {
                shared.windows = Array(
                    shared.windows.sorted { $0.estimate > $1.estimate }.prefix(Self.maximumSharedWindows))
            }
            counts.firedHere = counts.firedHere.filter { now.timeIntervalSince($0.value) < Self.sharedCountsLast }
            counts.sharesSinceSweep += 1
            if counts.sharesSinceSweep >= 10 {
                counts.sharesSinceSweep = 0
                for (rule, keys) in counts.elsewhere {
                    let kept = keys.compactMapValues { nodes in
                        let fresh = nodes.filter { $0.value.until > now }
                        return fresh.isEmpty ? nil : fresh
                    }
                    counts.elsewhere[rule] = kept.isEmpty ? nil : kept
                }
            }
            return shared
        }
    }

    /// Takes another node's word: its estimates count with this node's own for `sharedCountsLast`, and what fired
    /// there starts again here. Only the rules this node counts are taken, at most `maximumTrackedSources` sources
    /// per rule and `maximumNodesPerSource` nodes' words about each, each estimate between nothing and a billion;
    /// a window that fired here lately takes no word sent before the other node heard.
    ///
    /// When the words alone bring a window counted here to its threshold (the last event was counted before they
    /// arrived), the node with the lowest id among those that counted it fires, so that one node does; another
    /// fires when the sum still stands `sharedCountsLast` later (the lowest did not see it).
    public func takeCounts(_ shared: SharedCounts, from origin: UUID, at now: Date) {
        let limit = settings.maximumTrackedSources
        let firings = counts.withLock { counts -> [(SharedCounts.Key, Firing)] in
            for fired in shared.fired {
                counts.windows[fired.rule]?[fired.key] = nil
                counts.elsewhere[fired.rule]?[fired.key] = nil
                counts.nearThreshold[fired] = nil
            }
            for window in shared.windows where Self.countedRules.contains(window.rule) {
                guard window.estimate.isFinite, window.estimate > 0,
                    window.key.utf8.count <= Self.maximumSharedKeyBytes,
                    counts.firedHere[SharedCounts.Key(rule: window.rule, key: window.key)] == nil
                else { continue }
                let nodes = counts.elsewhere[window.rule]?[window.key]
                if nodes == nil, (counts.elsewhere[window.rule]?.count ?? 0) >= limit { continue }
                if nodes?[origin] == nil, (nodes?.count ?? 0) >= Self.maximumNodesPerSource { continue }
                counts.elsewhere[window.rule, default: [:]][window.key, default: [:]][origin] = (
                    min(window.estimate, 1e9), now.addingTimeInterval(Self.sharedCountsLast)
                )
            }
            var firings: [(SharedCounts.Key, Firing)] = []
            for taken in shared.windows {
                let window = SharedCounts.Key(rule: taken.rule, key: taken.key)
                guard let here = counts.node, let firing = counts.nearThreshold[window],
                    let count = counts.windows[window.rule]?[window.key]
                else { continue }
                // What this node last told counts here as it counts on the others (its estimate decays since):
                // every node adds up the same words.
                let estimate = max(count.estimate(at: now), firing.shared ?? 0)
                let elsewhere = counts.elsewhere(window, at: now)
                guard estimate > 0, estimate + elsewhere.sum >= Double(count.threshold) else {
                    counts.nearThreshold[window]?.waitingSince = nil
                    continue
                }
                // A lower node fires; should it not (a word of this node's lost on the way), this one does once the
                // sum has stood for as long as a word counts.
                if !elsewhere.nodes.allSatisfy({ here.uuidString < $0.uuidString }) {
                    guard let since = firing.waitingSince else {
                        counts.nearThreshold[window]?.waitingSince = now
                        continue
                    }
                    guard now.timeIntervalSince(since) >= Self.sharedCountsLast else { continue }
                }
                counts.fire(window, at: now)
                firings.append((window, firing))
            }
            return firings
        }
        for (window, firing) in firings {
            raising(window.rule + " " + window.key, tenant: firing.tenant, firing.fire)
        }
    }
}
