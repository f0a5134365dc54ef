import Foundation
import NIOCore
import Synchronization
import Testing
import WardenCore
import WardenMQTT
import WardenStore

@testable import WardenBroker
@testable import WardenHub

/// Twins against the real store: versions, If-Match, the device's GET and reported PATCH, restarts, deletion.
struct TwinServiceTests {
    let hub: HubFixture
    let twins: TwinService
    let device: DeviceID

    init() async throws {
        hub = try HubFixture()
        twins = try await TwinService(
            store: hub.database, persistence: hub.persistence, broker: hub.broker, clock: SystemClock())
        twins.follow(hub.bus)
        device = try DeviceID("thermostat-1")
    }

    private func json(_ publish: PublishPacket) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(publish.payload.readableBytesView))
    }

    @Test func desiredPatchesCountVersionsHonourIfMatchAndReachTheConnectedDevice() async throws {
        let connection = try hub.connect(device, subscribedTo: ["$iothub/twin/PATCH/properties/desired/#"])
        let first = try await twins.patchDesired(hub.tenant, device, ["target": .number(21)], ifMatch: 0)
        #expect(first.desired.version == 1)
        await #expect(throws: WardenError.self) {
            _ = try await twins.patchDesired(hub.tenant, device, ["target": .number(22)], ifMatch: 0)
        }
        let second = try await twins.patchDesired(hub.tenant, device, ["mode": .string("eco")], ifMatch: nil)
        #expect(second.desired.version == 2)
        #expect(second.desired.properties["target"] == .number(21))
        #expect(
            connection.publishes.map(\.topic) == [
                "$iothub/twin/PATCH/properties/desired/?$version=1",
                "$iothub/twin/PATCH/properties/desired/?$version=2",
            ])
        #expect(try json(connection.publishes[1]) == .object(["mode": .string("eco"), "$version": .number(2)]))
    }

    @Test func aTwinOutlivesARestartAndGoesWithItsDevice() async throws {
        _ = try await twins.patchDesired(hub.tenant, device, ["target": .number(21)], ifMatch: nil)
        let restarted = try await TwinService(
            store: hub.database, persistence: hub.persistence, broker: hub.broker, clock: SystemClock())
        #expect(restarted.twin(hub.tenant, device).desired.properties["target"] == .number(21))

        hub.bus.publish(.deviceDeleted(hub.tenant, device))
        #expect(twins.twin(hub.tenant, device).desired.version == 0)
        await hub.persistence.committed(hub.persistence.recordedCount)
        let afterDeletion = try await TwinService(
            store: hub.database, persistence: hub.persistence, broker: hub.broker, clock: SystemClock())
        #expect(afterDeletion.twin(hub.tenant, device).desired.version == 0)
    }

    /// A cluster node that missed notices reads the twins again: the stored desired section, newer than its
    /// copy, is taken and told whole to the device connected here; a section of its own that is newer stays.
    @Test func aReloadTakesWhatAnotherNodeStoredAndTellsTheDevice() async throws {
        let elsewhere = try await TwinService(
            store: hub.database, persistence: hub.persistence, broker: hub.broker, clock: SystemClock())
        _ = try await elsewhere.patchDesired(hub.tenant, device, ["target": .number(21)], ifMatch: nil)
        let connection = try hub.connect(device, subscribedTo: ["$iothub/twin/PATCH/properties/desired/#"])
        #expect(twins.twin(hub.tenant, device).desired.version == 0)
        try await twins.reload(from: hub.database)
        #expect(twins.twin(hub.tenant, device).desired.properties["target"] == .number(21))
        #expect(connection.publishes.map(\.topic) == ["$iothub/twin/PATCH/properties/desired/?$version=1"])
        #expect(try json(connection.publishes[0]) == .object(["target": .number(21), "$version": .number(1)]))
        // Nothing newer: a second reload tells nothing.
        try await twins.reload(from: hub.database)
        #expect(connection.publishes.count == 1)
    }

    /// A device deleted and made again: a desired patch right after starts from an empty twin (the deletion's
    /// write is committed first), and the twin it stores stays.
    @Test func aPatchAfterTheDeviceWasDeletedStartsAfresh() async throws {
        _ = try await twins.patchDesired(hub.tenant, device, ["target": .number(21)], ifMatch: nil)
        hub.bus.publish(.deviceDeleted(hub.tenant, device))
        let fresh = try await twins.patchDesired(hub.tenant, device, ["mode": .string("eco")], ifMatch: 0)
        #expect(fresh.desired.version == 1 && fresh.desired.properties == ["mode": .string("eco")])
        await hub.persistence.committed(hub.persistence.recordedCount)
        #expect(try await hub.database.twin(hub.tenant, device)?.desired == fresh.desired)
    }

    /// Two nodes' API patch one twin's desired properties without having heard of each other's patch: each
    /// applies to the stored section, so both count, each at its own version, and If-Match compares with the store.
    @Test func desiredPatchesOnTwoNodesBothCount() async throws {
        let elsewhere = try await TwinService(
            store: hub.database, persistence: hub.persistence, broker: hub.broker, clock: SystemClock())
        _ = try await twins.patchDesired(hub.tenant, device, ["target": .number(21)], ifMatch: nil)
        let second = try await elsewhere.patchDesired(hub.tenant, device, ["mode": .string("eco")], ifMatch: 1)
        #expect(second.desired.version == 2)
        #expect(second.desired.properties == ["target": .number(21), "mode": .string("eco")])
        await #expect(throws: WardenError(.twinVersionMismatch, "")) {
            _ = try await twins.patchDesired(hub.tenant, device, ["target": .number(22)], ifMatch: 1)
        }
        let third = try await twins.patchDesired(hub.tenant, device, ["target": .null], ifMatch: 2)
        #expect(third.desired.version == 3 && third.desired.properties == ["mode": .string("eco")])
        #expect(try await hub.database.twin(hub.tenant, device)?.desired == third.desired)
    }

    /// The real store, but the answer to the first desired write is lost after it committed (PostgreSQL's
    /// connection breaking at that moment).
    final class AnswerLost: TwinStore {
        let store: any TwinStore
        let lost = Mutex(false)

        init(_ store: any TwinStore) { self.store = store }

        func loadTwins() async throws -> [DeviceTwin] { try await store.loadTwins() }
        func twin(_ tenantID: TenantID, _ deviceID: DeviceID) async throws -> DeviceTwin? {
            try await store.twin(tenantID, deviceID)
        }
        func replaceDesired(of twin: DeviceTwin, ifAt version: Int) async throws -> Bool {
            let stored = try await store.replaceDesired(of: twin, ifAt: version)
            if lost.withLock({ $0 }) { return stored }
            lost.withLock { $0 = true }
            throw WardenError(.storeUnavailable, "The connection closed before the commit's answer.")
        }
    }

    /// A patch whose commit's answer was lost is answered as stored (it was), and counts once; a write that
    /// did not go through is still refused.
    @Test func aDesiredPatchWhoseAnswerWasLostCountsOnce() async throws {
        let store = AnswerLost(hub.database)
        let service = try await TwinService(
            store: store, persistence: hub.persistence, broker: hub.broker, clock: SystemClock())
        let first = try await service.patchDesired(hub.tenant, device, ["target": .number(21)], ifMatch: nil)
        #expect(first.desired.version == 1 && store.lost.withLock { $0 })
        let second = try await service.patchDesired(hub.tenant, device, ["mode": .string("eco")], ifMatch: nil)
        #expect(second.desired.version == 2)
        #expect(try await hub.database.twin(hub.tenant, device)?.desired == second.desired)
    }

    @Test func aReportedPatchIsAnsweredAfterItsCommitWithTheNewVersion() throws {
        let connection = try hub.connect(device, subscribedTo: ["$iothub/twin/res/#"])
        let patch = hub.message("$iothub/twin/PATCH/properties/reported/?$rid=7", #"{"firmware":"1.2","old":null}"#)
        let outcome = try #require(twins.received(patch, from: hub.sender(device)))
        #expect(outcome.changes.count == 1)
        #expect(connection.publishes.isEmpty)
        outcome.afterCommit?()
        #expect(connection.publishes.map(\.topic) == ["$iothub/twin/res/204/?$rid=7&$version=1"])
        #expect(twins.twin(hub.tenant, device).reported.properties["firmware"] == .string("1.2"))

        let get = try #require(twins.received(hub.message("$iothub/twin/GET/?$rid=8"), from: hub.sender(device)))
        get.afterCommit?()
        let answer = try #require(connection.publishes.last)
        #expect(answer.topic == "$iothub/twin/res/200/?$rid=8")
        guard case .object(let sections) = try json(answer), case .object(let reported)? = sections["reported"] else {
            Issue.record("not a twin document")
            return
        }
        #expect(reported["firmware"] == .string("1.2") && reported["$version"] == .number(1))
    }

    /// A session moved here from another node: its device's last reported patch, committed there before the move,
    /// is read again before the device's next patch, which builds on it (the version goes on, nothing is lost).
    @Test func aMovedDevicesTwinIsReadAgainBeforeItsNextReportedPatch() async throws {
        let elsewhere = try await TwinService(
            store: hub.database, persistence: hub.persistence, broker: hub.broker, clock: SystemClock())
        func patch(on node: TwinService, _ requestID: Int, _ body: String) async throws {
            let message = hub.message("$iothub/twin/PATCH/properties/reported/?$rid=\(requestID)", body)
            let outcome = try #require(node.received(message, from: hub.sender(device)))
            await hub.persistence.committed(hub.persistence.record(outcome.changes))
        }
        try await patch(on: elsewhere, 1, #"{"firmware":"1.2"}"#)
        #expect(twins.twin(hub.tenant, device).reported.version == 0, "not told yet")
        try await twins.refresh(hub.tenant, device, from: hub.database)
        try await patch(on: twins, 2, #"{"mode":"eco"}"#)
        let stored = try #require(try await hub.database.twin(hub.tenant, device))
        #expect(stored.reported.version == 2)
        #expect(stored.reported.properties == ["firmware": .string("1.2"), "mode": .string("eco")])
        // Nothing stored, or nothing newer: the copy stays.
        try await twins.refresh(hub.tenant, try DeviceID("never-stored"), from: hub.database)
        try await twins.refresh(hub.tenant, device, from: hub.database)
        #expect(twins.twin(hub.tenant, device).reported.version == 2)
    }

    @Test func badReportedPatchesAreAnswered400AndChangeNothing() throws {
        let connection = try hub.connect(device, subscribedTo: ["$iothub/twin/res/#"])
        let large = #"{"blob":""# + String(repeating: "x", count: 40_000) + #""}"#
        for body in ["not json", "[1,2]", large] {
            let outcome = try #require(
                twins.received(
                    hub.message("$iothub/twin/PATCH/properties/reported/?$rid=9", body), from: hub.sender(device)))
            #expect(outcome.changes.isEmpty)
        }
        #expect(connection.publishes.map(\.topic) == Array(repeating: "$iothub/twin/res/400/?$rid=9", count: 3))
        #expect(twins.twin(hub.tenant, device).reported.version == 0)
        let longID = "$iothub/twin/GET/?$rid=" + String(repeating: "1", count: 200)
        #expect(twins.received(hub.message(longID), from: hub.sender(device))?.refusal != nil)
        #expect(twins.received(hub.message("devices/thermostat-1/messages/events/"), from: hub.sender(device)) == nil)
    }
}
