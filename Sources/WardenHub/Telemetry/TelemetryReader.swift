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
    public func follow(_ tenantID: TenantID, _ deviceID: DeviceID, after: Int64?) -> TelemetryFollow {
        // Following starts before the replay reads, so that nothing committed in between is missed.
        TelemetryFollow(
            store: store, tenantID: tenantID, deviceID: deviceID, after: after, live: feed.follow(tenantID, deviceID))
    }
}

/// A follow of one device's telemetry, read as its consumer asks: the replay reads its next batch of stored
/// messages only once the last one was taken, so a client that stops reading holds one batch, not the device's
/// history; the live part is the feed's bounded follower buffer.
public struct TelemetryFollow: AsyncSequence, Sendable {
    public typealias Element = TelemetryMessage

    let store: any TelemetryStore
    let tenantID: TenantID
    let deviceID: DeviceID
    let after: Int64?
    let live: AsyncStream<TelemetryMessage>

    public func makeAsyncIterator() -> Iterator {
        Iterator(follow: self, replaying: after != nil, last: after ?? -1, live: live.makeAsyncIterator())
    }

    public struct Iterator: AsyncIteratorProtocol {
        let follow: TelemetryFollow
        /// Whether stored messages may remain after `batch`.
        var replaying: Bool
        var batch: ArraySlice<TelemetryMessage> = []
        /// The last sequence number handed out.
        var last: Int64
        var live: AsyncStream<TelemetryMessage>.Iterator

        public mutating func next() async throws -> TelemetryMessage? {
            while batch.isEmpty && replaying {
                let read = try await follow.store.telemetry(
                    follow.tenantID, follow.deviceID, from: .min, to: .max, afterSequence: last,
                    limit: TelemetryReader.replayBatch)
                replaying = read.count == TelemetryReader.replayBatch
                batch = read[...]
            }
            if let message = batch.popFirst() {
                last = message.sequenceNumber
                return message
            }
            while let message = await live.next() {
                guard message.sequenceNumber > last else { continue }
                last = message.sequenceNumber
                return message
            }
            return nil
        }
    }
}
