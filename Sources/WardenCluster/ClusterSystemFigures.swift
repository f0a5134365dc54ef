import CoreMetrics
import Foundation
import NIOCore
import Synchronization
public import WardenBroker
public import WardenCore
import WardenNATS

/// `$SYS` figures across nodes: at each round of `SystemTopics` a node sends `warden.sys.figures` its figures per
/// tenant, and adds the figures the other nodes last sent to its own, so that a subscriber on any node reads the
/// cluster's connected clients, sessions, subscriptions and messages. What a node stopped sending counts no more
/// after three rounds.
final class ClusterSystemFigures: SystemFiguresRelay {
    struct Message: Codable {
        let origin: UUID
        let tenants: [String: TenantFigures]
    }

    static let subject = "warden.sys.figures"
    /// Tenants per message; nodes, and tenant figures in all, that are kept (what a hostile publisher could
    /// otherwise grow without bound).
    static let maximumTenantsPerMessage = 1_000
    static let maximumNodes = 64
    static let maximumFigures = 100_000

    private let node: UUID
    private let nats: NATSClient
    /// Each other node's last figures per tenant, and until when they count; how many they are in all.
    private let elsewhere = Mutex<
        (nodes: [UUID: [TenantID: (figures: TenantFigures, until: ContinuousClock.Instant)]], count: Int)
    >(([:], 0))
    private let lasting = Mutex<Duration>(.seconds(30))
    private let refused = Counter(label: "warden_cluster_sys_figures_refused_total")

    init(node: UUID, nats: NATSClient) {
        self.node = node
        self.nats = nats
    }

    /// Takes the other nodes' figures from now on (the subscription holds this relay).
    func start() {
        nats.subscribe(Self.subject) { [self] message in take(message) }
    }

    func exchange(_ here: [TenantID: TenantFigures], lasting: Duration) -> [TenantID: TenantFigures] {
        self.lasting.withLock { $0 = lasting }
        var tenants = here.map { ($0.key.rawValue, $0.value) }[...]
        while !tenants.isEmpty {
            let part = tenants.prefix(Self.maximumTenantsPerMessage)
            tenants = tenants.dropFirst(part.count)
            let message = Message(origin: node, tenants: Dictionary(part) { first, _ in first })
            guard let json = try? JSONEncoder().encode(message) else { break }
            // What NATS cannot take now is dropped (counted by the client): the next round stands in for it.
            nats.publish(Self.subject, payload: ByteBuffer(bytes: json))
        }
        let now = ContinuousClock.now
        return elsewhere.withLock { elsewhere in
            var sum: [TenantID: TenantFigures] = [:]
            for (origin, figures) in elsewhere.nodes {
                let fresh = figures.filter { $0.value.until > now }
                elsewhere.nodes[origin] = fresh.isEmpty ? nil : fresh
                elsewhere.count -= figures.count - fresh.count
                for (tenantID, entry) in fresh where here[tenantID] != nil {
                    sum[tenantID, default: TenantFigures()].add(entry.figures)
                }
            }
            return sum
        }
    }

    /// Another node's figures.
    private func take(_ delivery: NATSMessage) {
        guard
            let message = try? JSONDecoder().decode(Message.self, from: Data(delivery.payload.readableBytesView)),
            message.origin != node
        else { return }
        guard message.tenants.count <= Self.maximumTenantsPerMessage else {
            refused.increment(by: message.tenants.count)
            return
        }
        let until = ContinuousClock.now + lasting.withLock { $0 }
        let left = elsewhere.withLock { elsewhere -> Int in
            guard elsewhere.nodes[message.origin] != nil || elsewhere.nodes.count < Self.maximumNodes else {
                return message.tenants.count
            }
            var left = 0
            for (text, figures) in message.tenants {
                guard let tenantID = try? TenantID(text) else {
                    left += 1
                    continue
                }
                if elsewhere.nodes[message.origin]?[tenantID] == nil {
                    guard elsewhere.count < Self.maximumFigures else {
                        left += 1
                        continue
                    }
                    elsewhere.count += 1
                }
                elsewhere.nodes[message.origin, default: [:]][tenantID] = (figures, until)
            }
            return left
        }
        if left > 0 { refused.increment(by: left) }
    }
}
