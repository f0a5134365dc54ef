import Crypto
public import Foundation
import Metrics
public import ServiceLifecycle
import Synchronization
public import WardenCore

/// Delivers alerts to an operator's webhook (issue 16): each change of an alert (raised, counted again,
/// acknowledged, resolved) is POSTed as JSON, signed with HMAC-SHA256 under a shared secret
/// (`X-Warden-Signature: sha256={hex}` over the body), and retried with backoff until the receiver answers 2xx or
/// the attempts are spent. The queue is bounded; what it drops and what fails are counted, and the last outcome
/// is shown (`GET /api/v1/defender/webhook`).
public final class AlertWebhook: Service, Sendable {
    /// POSTs `body` with `headers` to `url`; the HTTP status, or nil when it could not be reached.
    public typealias Post = @Sendable (_ url: String, _ headers: [(String, String)], _ body: [UInt8]) async -> Int?

    public struct Status: Sendable, Equatable {
        public var delivered = 0
        public var failed = 0
        public var dropped = 0
        public var pending = 0
        public var lastDeliveredAt: Date?
        public var lastError: String?

        public init() {}
    }

    private struct Delivery: Sendable {
        let id: String
        let body: [UInt8]
    }

    /// Deliveries waiting at once; past it, the oldest is dropped.
    public static let capacity = 1_000
    /// Attempts per delivery, and the wait before the second (doubling after each, at most `maximumBackoff`).
    public static let attempts = 6
    static let firstBackoff: Duration = .seconds(1)
    static let maximumBackoff: Duration = .seconds(30)

    public let url: String
    private let secret: SecretBytes
    private let post: Post
    private let queue = Mutex<[Delivery]>([])
    private let status = Mutex(Status())
    private let wake = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    private let delivered = Counter(
        label: "warden_defender_webhook_deliveries_total", dimensions: [("outcome", "delivered")])
    private let failed = Counter(label: "warden_defender_webhook_deliveries_total", dimensions: [("outcome", "failed")])
    private let dropped = Counter(
        label: "warden_defender_webhook_deliveries_total", dimensions: [("outcome", "dropped")])

    public init(url: String, secret: SecretBytes, post: @escaping Post) {
        self.url = url
        self.secret = secret
        self.post = post
    }

    /// Queues every alert change.
    public func follow(_ bus: EventBus) {
        bus.observeThisNode { [weak self] event in
            if case .alertChanged(let alert) = event { self?.enqueue(alert) }
        }
    }

    /// What was delivered, failed and dropped so far, and what waits.
    public var current: Status {
        var current = status.withLock { $0 }
        current.pending = queue.withLock { $0.count }
        return current
    }

    func enqueue(_ alert: Alert) {
        let delivery = Delivery(id: Hex.encode(SecretBytes.random(count: 8).bytes), body: alert.messageBody)
        let overflowed = queue.withLock { queue in
            queue.append(delivery)
            guard queue.count > Self.capacity else { return false }
            queue.removeFirst()
            return true
        }
        if overflowed {
            dropped.increment()
            status.withLock { $0.dropped += 1 }
        }
        wake.continuation.yield()
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            for await _ in self.wake.stream {
                while let delivery = self.queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
                    await self.deliver(delivery)
                }
            }
        }
    }

    private func deliver(_ delivery: Delivery) async {
        var backoff = Self.firstBackoff
        var lastError = ""
        for attempt in 1...Self.attempts {
            let answer = await post(url, headers(delivery, at: Date()), delivery.body)
            if let answer, (200..<300).contains(answer) {
                delivered.increment()
                status.withLock {
                    $0.delivered += 1
                    $0.lastDeliveredAt = Date()
                }
                return
            }
            lastError = answer.map { "HTTP \($0)" } ?? "not reachable"
            guard attempt < Self.attempts else { break }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, Self.maximumBackoff)
        }
        failed.increment()
        status.withLock {
            $0.failed += 1
            $0.lastError = "delivery \(delivery.id): \(lastError) after \(Self.attempts) attempts"
        }
    }

    /// The headers of one attempt: the signature covers its Unix time and the body (`{time}.{body}`), so that a
    /// receiver can refuse an old delivery replayed.
    private func headers(_ delivery: Delivery, at now: Date) -> [(String, String)] {
        let timestamp = String(now.unixSeconds)
        let signature = HMAC<SHA256>.authenticationCode(
            for: Array((timestamp + ".").utf8) + delivery.body, using: SymmetricKey(data: secret.bytes))
        return [
            ("Content-Type", "application/json"), ("X-Warden-Delivery", delivery.id),
            ("X-Warden-Timestamp", timestamp), ("X-Warden-Signature", "sha256=" + Hex.encode(Array(signature))),
        ]
    }
}
