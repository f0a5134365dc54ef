public import NIOCore
public import ServiceLifecycle
import WardenCore
import WardenMQTT

/// Publishes broker statistics under `$SYS/broker/…` into each tenant's topic space, as retained QoS 0
/// messages every `interval` (issue 3, "$SYS"). Each tenant sees only its own figures; who may subscribe is
/// the authorizer's call (devices may not; anonymous clients of a development listener may).
public struct SystemTopics: Service {
    private let broker: Broker
    private let interval: TimeAmount
    private let version: String
    private let started = NIODeadline.now()

    public init(broker: Broker, interval: TimeAmount, version: String) {
        self.broker = broker
        self.interval = interval
        self.version = version
    }

    public func run() async throws {
        guard interval > .zero else { return }
        let interval = Duration.nanoseconds(self.interval.nanoseconds)
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                publish(now: .now())
                try await Task.sleep(for: interval)
            }
        }
    }

    /// One round of figures, for every tenant with a session.
    func publish(now: NIODeadline) {
        let uptime = (now - started).nanoseconds / 1_000_000_000
        for (tenantID, figures) in broker.tenantFigures() {
            let values: [(String, String)] = [
                ("version", "warden \(version)"),
                ("uptime", "\(uptime) seconds"),
                ("clients/connected", "\(figures.connected)"),
                ("clients/total", "\(figures.sessions)"),
                ("subscriptions/count", "\(figures.subscriptions)"),
                ("retained messages/count", "\(figures.retained)"),
                ("messages/received", "\(figures.received)"),
                ("messages/sent", "\(figures.delivered)"),
            ]
            for (name, value) in values {
                let message = BrokerMessage(
                    topic: "$SYS/broker/" + name, payload: ByteBuffer(string: value), qos: .atMostOnce, retain: true,
                    properties: Properties(), receivedAt: now, publisher: nil)
                broker.publish(message, in: tenantID, now: now, isSystem: true)
            }
        }
    }
}
