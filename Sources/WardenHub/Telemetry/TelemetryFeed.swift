import Metrics
public import ServiceLifecycle
import Synchronization
public import WardenCore
public import WardenStore

/// Committed telemetry, live, for the API's server-sent events: the broker's writer tells it each committed
/// batch, and it hands each message to the followers of its device. Each follower has a bounded buffer; a
/// follower too slow to keep up loses the oldest messages (counted) and can catch up from the store by
/// sequence number. As a service, it ends every follow when the server shuts down, so that open event streams
/// finish instead of holding the HTTP server open.
public final class TelemetryFeed: Service, Sendable {
    /// Messages buffered per follower.
    public static let followerBuffer = 1000

    private struct Follower {
        let tenantID: TenantID
        let deviceID: DeviceID
        let continuation: AsyncStream<TelemetryMessage>.Continuation
    }

    private let followers = Mutex<[UInt64: Follower]>([:])
    private let nextID = Atomic<UInt64>(0)
    private let dropped = Counter(label: "warden_telemetry_feed_dropped_total")

    public init() {}

    public func run() async throws {
        try? await gracefulShutdown()
        let ending = followers.withLock { followers in
            defer { followers = [:] }
            return followers.values
        }
        for follower in ending { follower.continuation.finish() }
    }

    /// Hands the telemetry in a committed batch to its followers.
    public func committed(_ changes: [DeviceStateChange]) {
        let current = followers.withLock { $0 }
        guard !current.isEmpty else { return }
        for change in changes {
            guard case .appendTelemetry(let message) = change else { continue }
            for follower in current.values
            where follower.deviceID == message.deviceID && follower.tenantID == message.tenantID {
                if case .dropped = follower.continuation.yield(message) { dropped.increment() }
            }
        }
    }

    /// New telemetry of one device as it commits, until the stream's consumer stops.
    public func follow(_ tenantID: TenantID, _ deviceID: DeviceID) -> AsyncStream<TelemetryMessage> {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream.makeStream(
            of: TelemetryMessage.self, bufferingPolicy: .bufferingNewest(Self.followerBuffer))
        continuation.onTermination = { [weak self] _ in
            _ = self?.followers.withLock { $0.removeValue(forKey: id) }
        }
        followers.withLock { $0[id] = Follower(tenantID: tenantID, deviceID: deviceID, continuation: continuation) }
        return stream
    }
}
