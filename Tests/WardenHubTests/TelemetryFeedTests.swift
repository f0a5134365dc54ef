import Foundation
import Logging
import Synchronization
import Testing
import WardenCore
import WardenStore

@testable import WardenHub

/// The live feed on two nodes of one store: what one node commits reaches the other's followers through their
/// link (NATS's part, `ClusterFeed`, is in the cluster's interop tests), read from the store, once each.
struct TelemetryFeedTests {
    /// Two nodes' links, joined in memory as `ClusterFeed` joins them over NATS.
    final class Joined: TelemetryFeedLink, Sendable {
        let followed = Mutex<[TelemetryFeed.Device: Int]>([:])
        let other = Mutex<TelemetryFeed?>(nil)
        let wanted = Mutex(false)
        var isWanted: Bool { wanted.withLock { $0 } }
        func following(_ tenantID: TenantID, _ deviceID: DeviceID, isStarted: Bool) {
            followed.withLock { $0[.init(tenantID: tenantID, deviceID: deviceID), default: 0] += isStarted ? 1 : -1 }
        }
        func committed(_ devices: Set<TelemetryFeed.Device>) {
            let other = other.withLock { $0 }
            for device in devices { other?.otherNodeCommitted(device.tenantID, device.deviceID) }
        }
    }

    let hub: HubFixture
    let device: DeviceID

    init() throws {
        hub = try HubFixture()
        device = try DeviceID("meter-9")
    }

    func message(_ sequence: Int64, _ body: String, device: DeviceID? = nil) -> TelemetryMessage {
        TelemetryMessage(
            sequenceNumber: sequence, tenantID: hub.tenant, deviceID: device ?? self.device,
            enqueuedAtMilliseconds: SystemClock().nowMilliseconds(), authMethod: .sas, properties: "{}",
            body: Array(body.utf8))
    }

    /// Stores `messages` and tells `feed` they committed, as the broker's writer does.
    func commit(_ messages: [TelemetryMessage], on feed: TelemetryFeed) async throws {
        let changes = messages.map { DeviceStateChange.appendTelemetry($0) }
        try await hub.database.apply(changes)
        feed.committed(changes)
    }

    /// Two nodes' feeds on the store, "there" telling "here" what it commits.
    func twoNodes() -> (here: TelemetryFeed, linkHere: Joined, there: TelemetryFeed, linkThere: Joined) {
        let (here, there) = (TelemetryFeed(), TelemetryFeed())
        let (linkHere, linkThere) = (Joined(), Joined())
        here.install(link: linkHere, store: hub.database, logger: Logger(label: "test"))
        there.install(link: linkThere, store: hub.database, logger: Logger(label: "test"))
        linkThere.other.withLock { $0 = here }
        return (here, linkHere, there, linkThere)
    }

    @Test func anotherNodesCommitsReachTheFollowersHereOnceEach() async throws {
        let (here, linkHere, there, linkThere) = twoNodes()
        // Before anyone follows: the other node is not asked to look at its batches.
        try await commit([message(1, "before")], on: there)

        let stream = here.follow(hub.tenant, device)
        #expect(linkHere.followed.withLock { $0.values.first } == 1)
        var iterator = stream.makeAsyncIterator()
        func next() async -> String? { await iterator.next().map { String(decoding: $0.body, as: UTF8.self) } }
        linkThere.wanted.withLock { $0 = true }
        try await commit([message(2, "one"), message(3, "other", device: try DeviceID("meter-8"))], on: there)
        #expect(await next() == "one")
        try await commit([message(4, "local")], on: here)
        #expect(await next() == "local")
        // A notice that brings nothing new hands out nothing twice.
        here.otherNodeCommitted(hub.tenant, device)
        try await commit([message(5, "two")], on: there)
        #expect(await next() == "two")
    }

    /// Messages committed here long ago (past the 4,096 remembered) are not handed out again when another
    /// node's notice makes the feed read the store.
    @Test func aReadAfterManyLocalCommitsHandsOutNothingOld() async throws {
        let (here, _, there, linkThere) = twoNodes()
        linkThere.wanted.withLock { $0 = true }
        let stream = here.follow(hub.tenant, device)
        let count = TelemetryFeed.recentLimit + 4
        try await commit((1...Int64(count)).map { message($0, "local \($0)") }, on: here)
        try await commit([message(Int64(count) + 1, "elsewhere")], on: there)
        var bodies: [String] = []
        for await next in stream {
            bodies.append(String(decoding: next.body, as: UTF8.self))
            if bodies.last == "elsewhere" { break }
        }
        // The follower's buffer keeps the newest local ones (1,000 at most), then the other node's, each once.
        let numbers = bodies.dropLast().compactMap { Int($0.dropFirst("local ".count)) }
        #expect(numbers.count == bodies.count - 1 && numbers.count <= TelemetryFeed.followerBuffer)
        #expect(numbers == numbers.sorted() && Set(numbers).count == numbers.count && numbers.last == count)
    }

    /// A store that counts its telemetry reads.
    final class CountingStore: TelemetryStore {
        let store: any TelemetryStore
        let reads = Mutex(0)
        init(_ store: any TelemetryStore) { self.store = store }
        func telemetry(
            _ tenantID: TenantID, _ deviceID: DeviceID, from: Int64, to: Int64, afterSequence: Int64, limit: Int
        ) async throws -> [TelemetryMessage] {
            reads.withLock { $0 += 1 }
            return try await store.telemetry(
                tenantID, deviceID, from: from, to: to, afterSequence: afterSequence, limit: limit)
        }
        func lastTelemetrySequence() async throws -> Int64 { try await store.lastTelemetrySequence() }
        func deleteTelemetry(enqueuedBefore before: Int64, limit: Int) async throws -> Int {
            try await store.deleteTelemetry(enqueuedBefore: before, limit: limit)
        }
    }

    /// A follow replays the stored messages a batch at a time as its reader takes them (a client that stops
    /// reading holds one batch, not the device's history), then goes on live without a gap or a repeat.
    @Test func aReplayReadsTheStoreOnlyAsItsReaderTakesMessages() async throws {
        let feed = TelemetryFeed()
        let store = CountingStore(hub.database)
        let stored = TelemetryReader.replayBatch * 2 + 10
        try await commit((1...Int64(stored)).map { message($0, "stored \($0)") }, on: feed)
        let follow = TelemetryReader(store: store, feed: feed).follow(hub.tenant, device, after: 5)
        var iterator = follow.makeAsyncIterator()
        #expect(try await iterator.next()?.sequenceNumber == 6)
        #expect(store.reads.withLock { $0 } == 1)
        for expected in 7...Int64(TelemetryReader.replayBatch + 5) {
            #expect(try await iterator.next()?.sequenceNumber == expected)
        }
        #expect(store.reads.withLock { $0 } == 1, "one batch taken: nothing read ahead")
        #expect(try await iterator.next()?.sequenceNumber == Int64(TelemetryReader.replayBatch + 6))
        #expect(store.reads.withLock { $0 } == 2)
        for expected in Int64(TelemetryReader.replayBatch + 7)...Int64(stored) {
            #expect(try await iterator.next()?.sequenceNumber == expected)
        }
        // Committed after the follow began: seen once, live (the store's last batch was short: no further read).
        try await commit([message(Int64(stored) + 1, "live")], on: feed)
        #expect(try await iterator.next()?.sequenceNumber == Int64(stored) + 1)
        #expect(store.reads.withLock { $0 } == 3)
    }

    @Test func theLinkHearsOfTheFirstFollowerAndTheLast() async throws {
        let feed = TelemetryFeed()
        let link = Joined()
        feed.install(link: link, store: hub.database, logger: Logger(label: "test"))
        var first: AsyncStream<TelemetryMessage>? = feed.follow(hub.tenant, device)
        var second: AsyncStream<TelemetryMessage>? = feed.follow(hub.tenant, device)
        #expect(link.followed.withLock { $0.values.first } == 1)
        first = nil
        #expect(link.followed.withLock { $0.values.first } == 1)
        second = nil
        #expect(link.followed.withLock { $0.values.first } == 0)
        _ = (first, second)
    }
}
