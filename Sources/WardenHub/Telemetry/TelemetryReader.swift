public import WardenCore
public import WardenStore

/// Reads stored telemetry for the API: pages by time range, and a follow that replays from a sequence number
/// and then continues live.
public struct TelemetryReader: Sendable {
    /// Stored messages read per query when replaying.
    static let replayBatch = 500

    let store: any TelemetryStore
    let feed: TelemetryFeed
    /// The largest sequence number a page may hold now (`SequenceNumbers.settled`: in a cluster, none given
    /// out in the last two seconds).
    let settled: @Sendable () -> Int64

    public init(store: any TelemetryStore, feed: TelemetryFeed, settled: @escaping @Sendable () -> Int64 = { .max }) {
        self.store = store
        self.feed = feed
        self.settled = settled
    }

    /// One device's messages enqueued in `from..<to` (Unix milliseconds) after sequence `after`, oldest first,
    /// settled (`settled`); the next cursor is the last sequence number of a full page.
    public func page(
        _ tenantID: TenantID, _ deviceID: DeviceID, from: Int64, to: Int64, after: Int64, limit: Int
    ) async throws -> Page<TelemetryMessage> {
        let settled = settled()
        let items = try await store.telemetry(
            tenantID, deviceID, from: from, to: to, afterSequence: after, limit: limit
        ).filter { $0.sequenceNumber <= settled }
        return Page(items: items, nextCursor: items.count == limit ? items.last.map { String($0.sequenceNumber) } : nil)
    }

    /// New messages of one device as they commit; with `after`, first every stored message after that sequence
    /// number. No message is given twice or skipped between the replay and the live part.
    public func follow(_ tenantID: TenantID, _ deviceID: DeviceID, after: Int64?) -> AsyncThrowingStream<
        TelemetryMessage, any Error
    > {
        // Following starts before the replay reads, so that nothing committed in between is missed.
        let live = feed.follow(tenantID, deviceID)
        let store = self.store
        return AsyncThrowingStream { continuation in
            let task = Task {
                var last = after ?? -1
                do {
                    while after != nil {
                        let batch = try await store.telemetry(
                            tenantID, deviceID, from: .min, to: .max, afterSequence: last, limit: Self.replayBatch)
                        for message in batch { continuation.yield(message) }
                        last = batch.last?.sequenceNumber ?? last
                        if batch.count < Self.replayBatch { break }
                    }
                } catch {
                    continuation.finish(throwing: error)
                    return
                }
                for await message in live where message.sequenceNumber > last {
                    continuation.yield(message)
                    last = message.sequenceNumber
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
