import Foundation
public import Logging
import NIOCore
public import WardenDefender
public import WardenNATS

/// The Defender's threshold rules across nodes (docs/defender.md, "Several nodes"): every second each node sends
/// `warden.defender.counts` what its rules counted near their thresholds and what fired there, and adds what the
/// others sent to its own counts. Behind a load balancer one address's guesses spread over the nodes; summed,
/// they raise the alert (and the ban) they would on one node, within about a second of it.
final class ClusterDefenderCounts: Sendable {
    struct Message: Codable {
        let origin: UUID
        let counts: SharedCounts
    }

    static let subject = "warden.defender.counts"
    /// Windows and fired ones per message: a burst from many sources stays far below NATS's largest message.
    static let maximumEntriesPerMessage = 2_000

    private let node: UUID
    private let nats: NATSClient
    private let defender: DefenderService
    private let logger: Logger

    init(node: UUID, nats: NATSClient, defender: DefenderService, logger: Logger) {
        self.node = node
        self.nats = nats
        self.defender = defender
        self.logger = logger
    }

    /// Takes the other nodes' counts, and sends this node's every second until the task is cancelled (which holds
    /// this relay until then), off the event loops that serve connections.
    func start() -> Task<Void, Never> {
        defender.shareCounts(as: node)
        nats.subscribe(Self.subject) { [weak self] message in self?.take(message) }
        return Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                share(at: Date())
            }
        }
    }

    /// Sends what this node counted, in as many messages as it takes; what NATS cannot take now is dropped
    /// (counted by the client): the next second's estimates stand in for it, a fired window starts again later.
    func share(at now: Date) {
        let counts = defender.sharedCounts(at: now)
        var windows = counts.windows[...]
        var fired = counts.fired[...]
        while !windows.isEmpty || !fired.isEmpty {
            let firedPart = fired.prefix(Self.maximumEntriesPerMessage)
            fired = fired.dropFirst(firedPart.count)
            let windowPart = windows.prefix(Self.maximumEntriesPerMessage - firedPart.count)
            windows = windows.dropFirst(windowPart.count)
            let message = Message(
                origin: node, counts: SharedCounts(windows: Array(windowPart), fired: Array(firedPart)))
            guard let json = try? JSONEncoder().encode(message) else { return }
            nats.publish(Self.subject, payload: ByteBuffer(bytes: json))
        }
    }

    /// Another node's counts.
    private func take(_ delivery: NATSMessage) {
        guard
            let message = try? JSONDecoder().decode(Message.self, from: Data(delivery.payload.readableBytesView)),
            message.origin != node,
            message.counts.windows.count + message.counts.fired.count <= Self.maximumEntriesPerMessage
        else { return }
        defender.takeCounts(message.counts, from: message.origin, at: Date())
    }
}
