import Foundation
import Logging
import NIOPosix
import Synchronization
import Testing
import WardenCore
import WardenNATS
import WardenRegistry
import WardenSecurity
import WardenStore

@testable import WardenCluster

/// Two nodes on one store: node A's registry changes reach node B as notices (JSON, ids only), which B turns
/// back into events from the store; B's device directory then answers as A's does.
struct ClusterEventsTests {
    /// Node A: a registry and its directory. Node B: a directory loaded from the same store, following A's
    /// notices through `ClusterEvents.event(for:)`.
    final class TwoNodes: Sendable {
        let database: SQLiteDatabase
        let registry: RegistryService
        let directoryA = DeviceDirectory()
        let directoryB = DeviceDirectory()
        let busB = EventBus()
        let eventsB: ClusterEvents
        let notices = Mutex<[Data]>([])

        init() async throws {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("warden-cluster-\(UUID())")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            database = try SQLiteDatabase(
                path: folder.appendingPathComponent("warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()))
            let busA = EventBus()
            directoryA.follow(busA)
            registry = RegistryService(stores: .init(database), bus: busA, hubHostName: try HostName("hub.example"))
            _ = try await registry.ensureDefaultTenant()
            directoryB.follow(busB)
            try await directoryB.load(
                tenants: database, devices: database, groups: database, admission: database, policies: database,
                authorities: database, authorizationPolicies: database)
            // Never started: `event(for:)` reads the store only.
            let nats = NATSClient(
                configuration: .init(servers: [], name: "unused"), group: MultiThreadedEventLoopGroup.singleton,
                logger: Logger(label: "test"))
            eventsB = ClusterEvents(node: UUID(), nats: nats, bus: busB, store: database, logger: Logger(label: "test"))
            let nodeA = UUID()
            busA.observeThisNode { [weak self] event in
                guard let notice = ClusterNotice(event, origin: nodeA), let data = try? JSONEncoder().encode(notice)
                else { return }
                self?.notices.withLock { $0.append(data) }
            }
        }

        /// Hands B every notice A sent since the last call, as B would from NATS.
        func deliver() async throws {
            let pending = notices.withLock { notices in
                defer { notices = [] }
                return notices
            }
            for data in pending {
                let notice = try JSONDecoder().decode(ClusterNotice.self, from: data)
                if let event = try await eventsB.event(for: notice) { busB.publish(event, from: .otherNode) }
            }
        }

        func authenticates(_ directory: DeviceDirectory, _ id: DeviceID) async throws -> Bool {
            let (token, _) = try await registry.sasToken(.defaultTenant, id, lifetime: 3600)
            let parsed = try SASToken.parse(String(decoding: token.bytes, as: UTF8.self))
            let entry = try? directory.authenticate(
                parsed, tenantID: .defaultTenant, deviceID: id, now: UInt64(Date().timeIntervalSince1970))
            return entry.map { $0.device.status == .enabled } ?? false
        }
    }

    @Test func aDeviceMadeChangedAndDeletedOnOneNodeIsKnownAlikeOnTheOther() async throws {
        let nodes = try await TwoNodes()
        let id = try DeviceID("meter-1")
        _ = try await nodes.registry.createDevice(.defaultTenant, .init(id: id))
        #expect(try await !nodes.authenticates(nodes.directoryB, id))
        try await nodes.deliver()
        #expect(try await nodes.authenticates(nodes.directoryB, id))

        _ = try await nodes.registry.rotateKeys(.defaultTenant, id, .primary, ifMatch: nil)
        try await nodes.deliver()
        #expect(try await nodes.authenticates(nodes.directoryA, id))
        #expect(try await nodes.authenticates(nodes.directoryB, id))

        _ = try await nodes.registry.updateDevice(
            .defaultTenant, id, .init(status: .disabled, attributes: ["floor": "3"]), ifMatch: nil)
        try await nodes.deliver()
        #expect(nodes.directoryB.entry(.defaultTenant, id)?.device.status == .disabled)
        #expect(nodes.directoryB.entry(.defaultTenant, id)?.device.attributes == ["floor": "3"])

        let group = try GroupName("lab")
        _ = try await nodes.registry.createGroup(.defaultTenant, group, description: "", members: [id])
        try await nodes.deliver()
        #expect(nodes.directoryB.entry(.defaultTenant, id)?.groups == [group])

        try await nodes.registry.deleteDevice(.defaultTenant, id, ifMatch: nil)
        try await nodes.deliver()
        #expect(nodes.directoryB.entry(.defaultTenant, id) == nil)
    }

    @Test func aBanCrossesAsTheStoreHoldsItAndAnUnreadableNoticeIsRefused() async throws {
        let nodes = try await TwoNodes()
        let ban = Ban(
            id: "ban-1", subject: .device(.defaultTenant, try DeviceID("pump-2")), reason: "tests", createdAt: Date(),
            expiresAt: Date().addingTimeInterval(60), createdBy: "user:ada", alertID: "alert-9")
        try await nodes.database.addBan(ban)
        let notice = try #require(ClusterNotice(.banAdded(ban), origin: UUID()))
        let read = try JSONDecoder().decode(ClusterNotice.self, from: JSONEncoder().encode(notice))
        guard case .banAdded(let crossed)? = try await nodes.eventsB.event(for: read) else {
            Issue.record("not a ban")
            return
        }
        #expect(crossed.id == ban.id && crossed.subject == ban.subject && crossed.reason == ban.reason)
        #expect(crossed.createdBy == ban.createdBy && crossed.alertID == ban.alertID)
        #expect(crossed.expiresAt.map { abs($0.timeIntervalSince(ban.expiresAt!)) < 0.001 } == true)

        var hostile = read
        hostile.tenant = "Not A Tenant"
        hostile.kind = .deviceDeleted
        hostile.device = "x"
        await #expect(throws: WardenError.self) { _ = try await nodes.eventsB.event(for: hostile) }
        hostile.tenant = nil
        await #expect(throws: WardenError.self) { _ = try await nodes.eventsB.event(for: hostile) }
    }

    /// Whoever can publish on the NATS network cannot ban or unban, or change a tenant's Defender rules, by a
    /// notice alone: each is read back from the store.
    @Test func forgedDefenderNoticesChangeNothingTheStoreDoesNotHold() async throws {
        let nodes = try await TwoNodes()
        let everyone = Ban(
            id: "forged", subject: .address(try CIDR("0.0.0.0/0")), reason: "forged", createdAt: Date(),
            expiresAt: nil, createdBy: "nobody", alertID: nil)
        let forgedBan = try #require(ClusterNotice(.banAdded(everyone), origin: UUID()))
        #expect(try await nodes.eventsB.event(for: forgedBan) == nil)

        let held = Ban(
            id: "held", subject: .device(.defaultTenant, try DeviceID("pump-2")), reason: "tests", createdAt: Date(),
            expiresAt: nil, createdBy: "user:ada", alertID: nil)
        try await nodes.database.addBan(held)
        let forgedLift = try #require(ClusterNotice(.banRemoved(held), origin: UUID()))
        #expect(try await nodes.eventsB.event(for: forgedLift) == nil)
        _ = try await nodes.database.removeBan("held")
        guard case .banRemoved(let lifted)? = try await nodes.eventsB.event(for: forgedLift) else {
            Issue.record("a lifted ban does not cross")
            return
        }
        #expect(lifted.id == "held" && lifted.subject == held.subject)

        let forgedRules = try #require(
            ClusterNotice(.defenderRulesChanged(.defaultTenant, #"{"rules": {}}"#), origin: UUID()))
        guard case .defenderRulesChanged(let tenant, let text)? = try await nodes.eventsB.event(for: forgedRules) else {
            Issue.record("not a rules change")
            return
        }
        #expect(tenant == .defaultTenant && text == nil)
        try await nodes.database.saveDefenderRules("stored", for: .defaultTenant)
        guard case .defenderRulesChanged(_, let stored)? = try await nodes.eventsB.event(for: forgedRules) else {
            Issue.record("not a rules change")
            return
        }
        #expect(stored == "stored")
    }

    /// Access changes cross with their fields: a sign-out with its session and end, a password change with its
    /// user and instant; a notice missing them is refused.
    @Test(arguments: [
        AccessChange.principals, .signedOut(session: "fam-1", until: Date(timeIntervalSince1970: 1_800_000_600)),
        .tokensRevoked(userID: "usr_1", before: Date(timeIntervalSince1970: 1_800_000_000)),
    ])
    func accessChangesCross(change: AccessChange) async throws {
        let nodes = try await TwoNodes()
        let notice = try #require(ClusterNotice(.accessChanged(change), origin: UUID()))
        let read = try JSONDecoder().decode(ClusterNotice.self, from: JSONEncoder().encode(notice))
        guard case .accessChanged(let crossed)? = try await nodes.eventsB.event(for: read) else {
            Issue.record("not an access change")
            return
        }
        #expect(crossed == change)
        guard change != .principals else { return }
        var incomplete = read
        incomplete.until = nil
        await #expect(throws: WardenError.self) { _ = try await nodes.eventsB.event(for: incomplete) }
    }

    /// An alert's resolution crosses (the node holding the device's baseline learns it again), read back from
    /// the store; raising and acknowledging stay on their node (it sends and records them).
    @Test func aResolvedAlertCrossesAndOthersStay() async throws {
        let nodes = try await TwoNodes()
        var alert = Alert(
            id: "al-1", tenantID: .defaultTenant, rule: "behaviour.message-rate", severity: .medium,
            subject: "device default/meter-1", summary: "fast", firstSeen: Date(), lastSeen: Date())
        #expect(ClusterNotice(.alertChanged(alert), origin: UUID()) == nil)
        alert.status = .acknowledged
        #expect(ClusterNotice(.alertChanged(alert), origin: UUID()) == nil)
        _ = try await nodes.database.raiseAlert(alert)
        alert = try #require(
            try await nodes.database.changeAlertStatus("al-1", to: .resolved, by: "user:ada", at: Date()))
        let notice = try #require(ClusterNotice(.alertChanged(alert), origin: UUID()))
        let read = try JSONDecoder().decode(ClusterNotice.self, from: JSONEncoder().encode(notice))
        guard case .alertChanged(let crossed)? = try await nodes.eventsB.event(for: read) else {
            Issue.record("not an alert")
            return
        }
        #expect(crossed.id == alert.id && crossed.status == .resolved && crossed.subject == alert.subject)
        var gone = read
        gone.id = "al-2"
        #expect(try await nodes.eventsB.event(for: gone) == nil)
    }

    /// Events that stay on their node make no notice (each node records its own).
    @Test func nodeLocalEventsDoNotCross() throws {
        #expect(ClusterNotice(.backupMade(at: Date(), withPassphrase: false), origin: UUID()) == nil)
        #expect(ClusterNotice(.tenantDeleted(.defaultTenant), origin: UUID()) != nil)
    }
}
