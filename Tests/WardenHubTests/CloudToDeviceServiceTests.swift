import Foundation
import Logging
import NIOCore
import Synchronization
import Testing
import WardenAzure
import WardenCore
import WardenMQTT
import WardenStore

@testable import WardenBroker
@testable import WardenHub

/// Cloud-to-device queues against the real store: limits, MQTT delivery and its PUBACK, HTTPS receive and
/// settlement, feedback, restarts.
struct CloudToDeviceServiceTests {
    let hub: HubFixture
    let service: CloudToDeviceService
    let device: DeviceID

    init() async throws {
        hub = try HubFixture()
        var configuration = CloudToDeviceService.Configuration()
        configuration.maximumDepth = 2
        configuration.maximumMessageSize = 1024
        service = try await Self.service(hub, configuration)
        device = try DeviceID("lamp-1")
    }

    private static func service(
        _ hub: HubFixture, _ configuration: CloudToDeviceService.Configuration = .init(), slot: Int? = nil
    ) async throws -> CloudToDeviceService {
        try await CloudToDeviceService(
            configuration: configuration, store: hub.database, persistence: hub.persistence, broker: hub.broker,
            slot: slot, clock: SystemClock(), logger: Logger(label: "test"))
    }

    private func send(_ body: String, ttl: Int64? = nil, ack: CloudToDeviceMessage.Acknowledgement = .full)
        async throws -> CloudToDeviceMessage
    {
        try await service.send(
            .init(body: Array(body.utf8), properties: [.init("k", "v")], timeToLive: ttl, acknowledgement: ack),
            to: device, in: hub.tenant)
    }

    @Test func aBadTimeToLiveATooLargeMessageAndAFullQueueAreRefusedAndQueueNothing() async throws {
        #expect(await errorCode { _ = try await send("x", ttl: 0) } == .c2dInvalidTTL)
        #expect(await errorCode { _ = try await send("x", ttl: 48 * 3600 + 1) } == .c2dInvalidTTL)
        #expect(await errorCode { _ = try await send(String(repeating: "x", count: 1024)) } == .c2dTooLarge)
        #expect(service.list(hub.tenant, device).isEmpty)
        _ = try await send("1")
        _ = try await send("2")
        #expect(await errorCode { _ = try await send("3") } == .c2dQueueFull)
        #expect(
            service.list(hub.tenant, device).map { String(decoding: $0.message.body, as: UTF8.self) } == ["1", "2"])
    }

    @Test func aConnectedDeviceGetsTheMessageAndItsPubackCompletesItWithFeedback() async throws {
        let connection = try hub.connect(device, subscribedTo: ["devices/lamp-1/messages/devicebound/#"])
        let sent = try await send("on")
        let delivered = try #require(connection.publishes.first)
        #expect(delivered.topic.hasPrefix("devices/lamp-1/messages/devicebound/"))
        #expect(delivered.topic.contains("k=v") && delivered.topic.contains(sent.messageID))
        #expect(service.list(hub.tenant, device).map(\.isLocked) == [true])
        connection.acknowledgeAll()
        #expect(service.list(hub.tenant, device).isEmpty)
        await hub.persistence.committed(hub.persistence.recordedCount)
        let feedback = try await service.feedback(hub.tenant, after: 0, limit: 10).items
        #expect(feedback.map(\.status) == [.success] && feedback.first?.originalMessageID == sent.messageID)
    }

    @Test func aConnectionThatEndsBeforeItsPubackLeavesTheMessageQueued() async throws {
        let connection = try hub.connect(device, subscribedTo: ["devices/lamp-1/messages/devicebound/#"])
        _ = try await send("on")
        #expect(service.list(hub.tenant, device).map(\.isLocked) == [true])
        // The broker tells the hub (HubTraffic) after the session let go of the connection.
        hub.broker.close(try #require(connection.session), sink: connection, will: nil, now: .now())
        service.deviceGone(.init(tenantID: hub.tenant, deviceID: device))
        #expect(service.list(hub.tenant, device).map(\.isLocked) == [false])
    }

    /// A link (an AMQP device's) gets the messages rather than the MQTT session, settles only what it holds,
    /// and gives back what it did not settle when it goes or a later link takes its place.
    @Test func aLinkHoldsWhatItIsOfferedUntilItSettlesOrGoes() async throws {
        let connection = try hub.connect(device, subscribedTo: ["devices/lamp-1/messages/devicebound/#"])
        let link = RecordingLink()
        let number = service.attach(link, tenantID: hub.tenant, deviceID: device)
        let first = try await send("one")
        #expect(link.offered.map(\.sequenceNumber) == [first.sequenceNumber] && connection.publishes.isEmpty)
        #expect(
            await errorCode {
                _ = try service.settle(hub.tenant, device, sequence: first.sequenceNumber, link: 999, .complete)
            }
                == .c2dLockLost)
        // Abandoned: offered again at once, a delivery more on its count.
        await hub.persistence.committed(
            try service.settle(hub.tenant, device, sequence: first.sequenceNumber, link: number, .abandon))
        #expect(link.offered.map(\.deliveryCount) == [0, 1])
        // A later link takes the place; the first hears so, and what it held goes to the new one.
        let later = RecordingLink()
        let laterNumber = service.attach(later, tenantID: hub.tenant, deviceID: device)
        #expect(link.supersededCount == 1 && later.offered.map(\.sequenceNumber) == [first.sequenceNumber])
        #expect(
            await errorCode {
                _ = try service.settle(hub.tenant, device, sequence: first.sequenceNumber, link: number, .complete)
            }
                == .c2dLockLost)
        // The old link's detach takes nothing from the new one.
        service.detach(number, tenantID: hub.tenant, deviceID: device)
        #expect(service.list(hub.tenant, device).map(\.isLocked) == [true])
        // Gone: the MQTT session gets it.
        service.detach(laterNumber, tenantID: hub.tenant, deviceID: device)
        #expect(connection.publishes.count == 1)
        connection.acknowledgeAll()
        #expect(service.list(hub.tenant, device).isEmpty)
    }

    @Test func aLinksRejectDeadLettersWithFeedback() async throws {
        let link = RecordingLink()
        let number = service.attach(link, tenantID: hub.tenant, deviceID: device)
        let sent = try await send("no")
        await hub.persistence.committed(
            try service.settle(hub.tenant, device, sequence: sent.sequenceNumber, link: number, .reject))
        #expect(service.list(hub.tenant, device).isEmpty)
        #expect(try await service.feedback(hub.tenant, after: 0, limit: 10).items.map(\.status) == [.rejected])
    }

    @Test func httpsReceiveLocksAndSettlementNeedsTheLock() async throws {
        let sent = try await send("on")
        let (message, token) = try #require(await service.receive(hub.tenant, device))
        #expect(message.sequenceNumber == sent.sequenceNumber)
        #expect(await service.receive(hub.tenant, device) == nil)
        #expect(
            await errorCode { try await service.settle(hub.tenant, device, lockToken: "nope", .complete) }
                == .c2dLockLost)
        try await service.settle(hub.tenant, device, lockToken: token, .reject)
        #expect(service.list(hub.tenant, device).isEmpty)
        #expect(try await service.feedback(hub.tenant, after: 0, limit: 10).items.map(\.status) == [.rejected])
    }

    /// The lock is committed before the receive returns: after a restart the device still settles with it.
    @Test func anHTTPSLockOutlivesARestart() async throws {
        _ = try await send("held")
        let (_, token) = try #require(await service.receive(hub.tenant, device))
        let restarted = try await Self.service(hub)
        #expect(restarted.list(hub.tenant, device).map(\.isLocked) == [true])
        #expect(await restarted.receive(hub.tenant, device) == nil)
        try await restarted.settle(hub.tenant, device, lockToken: token, .complete)
        #expect(restarted.list(hub.tenant, device).isEmpty)
    }

    /// Behind a load balancer the device's DELETE may reach another node before that node followed the receive:
    /// a cluster node looks the lock up in the store. Another device's token settles nothing.
    @Test func aClusterNodeSettlesALockTakenOnAnotherNode() async throws {
        let other = try await Self.service(hub, slot: 2)
        _ = try await send("on")
        let (_, token) = try #require(await service.receive(hub.tenant, device))
        let stranger = try DeviceID("lamp-2")
        #expect(
            await errorCode { try await other.settle(hub.tenant, stranger, lockToken: token, .complete) }
                == .c2dLockLost)
        try await other.settle(hub.tenant, device, lockToken: token, .complete)
        await hub.persistence.committed(hub.persistence.recordedCount)
        #expect(try await hub.database.loadCloudToDeviceMessages().isEmpty)
        #expect(try await service.feedback(hub.tenant, after: 0, limit: 10).items.map(\.status) == [.success])
    }

    /// Nodes that have not heard of each other's receive or completion: a lock takes only over no running lock,
    /// and only of a message still stored, so a second node's receive hands out nothing and takes up what the
    /// store holds; the message is completed once, with one feedback record.
    @Test func aClusterNodeDoesNotHandOutWhatAnotherLockedOrSettled() async throws {
        _ = try await send("on")
        let first = try await Self.service(hub, slot: 1)
        let second = try await Self.service(hub, slot: 2)
        let third = try await Self.service(hub, slot: 3)
        let (_, token) = try #require(await first.receive(hub.tenant, device))
        #expect(await second.receive(hub.tenant, device) == nil)
        #expect(second.list(hub.tenant, device).map(\.isLocked) == [true])
        try await first.settle(hub.tenant, device, lockToken: token, .complete)
        #expect(third.list(hub.tenant, device).map(\.isLocked) == [false])
        #expect(await third.receive(hub.tenant, device) == nil)
        #expect(third.list(hub.tenant, device).isEmpty)
        #expect(try await hub.database.feedback(hub.tenant, afterSequence: 0, limit: 10).map(\.status) == [.success])
    }

    /// A cluster node that missed notices reads the queues again: a message another node queued joins, one it
    /// completed leaves, and a device connected here gets what joined.
    @Test func aReloadTakesTheQueuesAsAnotherNodeLeftThem() async throws {
        let other = try await Self.service(hub, slot: 2)
        let first = try await other.send(.init(body: Array("one".utf8)), to: device, in: hub.tenant)
        #expect(service.list(hub.tenant, device).isEmpty)
        try await service.reload()
        #expect(service.list(hub.tenant, device).map(\.message.messageID) == [first.messageID])

        let (_, token) = try #require(await other.receive(hub.tenant, device))
        try await other.settle(hub.tenant, device, lockToken: token, .complete)
        let second = try await other.send(.init(body: Array("two".utf8)), to: device, in: hub.tenant)
        let connection = try hub.connect(device, subscribedTo: ["devices/lamp-1/messages/devicebound/#"])
        try await service.reload()
        #expect(service.list(hub.tenant, device).map(\.message.messageID) == [second.messageID])
        #expect(connection.publishes.count == 1 && service.list(hub.tenant, device).map(\.isLocked) == [true])
    }

    @Test func theQueueOutlivesARestart() async throws {
        let sent = try await send("kept")
        let restarted = try await Self.service(hub)
        #expect(restarted.list(hub.tenant, device).map(\.message.messageID) == [sent.messageID])
        #expect(await restarted.purge(hub.tenant, device) == 1)
        #expect(try await Self.service(hub).list(hub.tenant, device).isEmpty)
    }
}

/// A cloud-to-device link that records what it is offered.
final class RecordingLink: CloudToDeviceLink {
    private let state = Mutex<(offered: [CloudToDeviceMessage], superseded: Int)>(([], 0))

    var offered: [CloudToDeviceMessage] { state.withLock { $0.offered } }
    let capacity = 10

    func took(_ count: Int) {}
    var supersededCount: Int { state.withLock { $0.superseded } }

    func offer(_ messages: [CloudToDeviceMessage]) {
        state.withLock { $0.offered += messages }
    }

    func superseded() {
        state.withLock { $0.superseded += 1 }
    }
}
