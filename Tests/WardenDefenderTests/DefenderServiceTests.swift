import Foundation
import Synchronization
import Testing
import WardenCore
import WardenSecurity
import WardenStore

@testable import WardenDefender

/// Bans answered from memory (and kept in the store), and the refused-authentication rule: one alert per
/// subject while it is not resolved, counted per burst, with an automatic ban when configured.
struct DefenderServiceTests {
    /// A clock the test moves: a ban's expiry must not depend on how fast a loaded machine commits.
    final class MovedClock: WardenClock, Sendable {
        private let instant = Mutex(Date())
        func now() -> Date { instant.withLock { $0 } }
        func advance(_ seconds: TimeInterval) { instant.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    let database: SQLiteDatabase
    let bus = EventBus()
    let clock = MovedClock()

    init() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("warden-defender-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        database = try SQLiteDatabase(
            path: folder.appendingPathComponent("warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()))
    }

    func defender(_ settings: DefenderService.Settings = .init(), clock: any WardenClock = SystemClock()) async throws
        -> DefenderService
    {
        let defender = DefenderService(store: database, bus: bus, settings: settings, clock: clock)
        try await defender.load()
        defender.follow(bus)
        return defender
    }

    func address(_ text: String) throws -> IPAddress { try #require(IPAddress(text)) }

    @Test func bansRefuseWhatTheyNameUntilTheyExpireOrAreLifted() async throws {
        let defender = try await defender(clock: clock)
        let range = try await defender.addBan(
            .address(try CIDR("198.51.100.0/24")), reason: "scanner", lifetime: nil, by: "user:admin")
        _ = try await defender.addBan(.clientID("bot-1"), reason: "flapping", lifetime: nil, by: "user:admin")
        _ = try await defender.addBan(
            .device(.defaultTenant, try DeviceID("meter-1")), reason: "stolen", lifetime: 3_600, by: "user:admin")
        _ = try await defender.addBan(
            .address(try CIDR("203.0.113.9/32")), reason: "short", lifetime: 1, by: "user:admin")

        #expect(defender.ban(of: try address("198.51.100.77"))?.id == range.id)
        #expect(defender.ban(of: try address("198.51.101.1")) == nil)
        #expect(defender.ban(ofClientID: "bot-1") != nil && defender.ban(ofClientID: "bot-2") == nil)
        #expect(defender.ban(of: try DeviceID("meter-1"), in: .defaultTenant) != nil)
        #expect(defender.ban(of: try DeviceID("meter-1"), in: try TenantID("other")) == nil)
        #expect(defender.ban(of: try address("203.0.113.9")) != nil)
        clock.advance(1.1)
        #expect(defender.ban(of: try address("203.0.113.9")) == nil, "an expired ban refuses nothing")

        // A restart reads them back; a lifted one is gone.
        _ = try await defender.removeBan(range.id)
        let again = try await self.defender()
        #expect(again.ban(of: try address("198.51.100.77")) == nil)
        #expect(again.ban(ofClientID: "bot-1") != nil)
        await #expect(throws: WardenError.self) { _ = try await defender.removeBan(range.id) }
        await #expect(throws: WardenError.self) {
            _ = try await defender.addBan(.clientID("x"), reason: "", lifetime: nil, by: "user:admin")
        }
        #expect(throws: WardenError.self) { try Ban.Subject(kind: "address", value: "not-an-address") }
        #expect(throws: WardenError.self) { try Ban.Subject(kind: "device", value: "no-slash") }
    }

    @Test func refusedAuthenticationsRaiseOneAlertPerBurstAndBanWhenConfigured() async throws {
        var settings = DefenderService.Settings()
        settings.authFailureThreshold = 5
        settings.authFailureBan = 600
        let defender = try await defender(settings)
        let attacker = try address("192.0.2.66")
        func attempt(accepted: Bool, from peer: IPAddress) {
            bus.publish(
                .authentication(
                    AuthenticationRecord(
                        tenantID: .defaultTenant, principal: "meter-1", peerAddress: peer, protocolName: "mqtt",
                        method: .sas, isAccepted: accepted, failure: accepted ? nil : .sasSignatureMismatch,
                        isCredentialFailure: !accepted, guessedDevice: accepted ? nil : try? DeviceID("meter-1"),
                        certificateThumbprint: nil, referenceID: "r", at: Date())))
        }
        for _ in 0..<4 { attempt(accepted: false, from: attacker) }
        for _ in 0..<10 { attempt(accepted: true, from: attacker) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await defender.alerts(status: nil).isEmpty, "4 refusals and any successes raise nothing")

        attempt(accepted: false, from: attacker)
        let raised = try await waitFor { try await addressAlerts(defender).first }
        #expect(raised.rule == DefenderService.authFailuresRule && raised.subject == "address 192.0.2.66")
        #expect(raised.severity == .high && raised.count == 1)
        let ban = try await waitFor { defender.ban(of: attacker) }
        #expect(ban.alertID == raised.id && ban.createdBy == "defender:auth.failures.address")
        #expect(ban.expiresAt != nil)

        // The next burst counts on the same alert; once resolved, a new one is raised.
        for _ in 0..<5 { attempt(accepted: false, from: attacker) }
        _ = try await waitFor { try await addressAlerts(defender).first { $0.count == 2 } }
        _ = try await defender.setStatus(raised.id, .resolved, by: "user:admin")
        for _ in 0..<5 { attempt(accepted: false, from: attacker) }
        let second = try await waitFor { try await addressAlerts(defender).first { $0.status == .open } }
        #expect(second.id != raised.id && second.count == 1)
        #expect(try await addressAlerts(defender).count == 2)
        // The same refusals, all naming meter-1, are also the device rule's (10 within 300 s by default).
        let device = try await waitFor {
            try await defender.alerts(status: .open).first { $0.rule == DefenderService.RuleName.deviceAuthFailures }
        }
        #expect(device.subject == "device default/meter-1" && device.tenantID == .defaultTenant)
        await #expect(throws: WardenError.self) { _ = try await defender.setStatus("nope", .resolved, by: "x") }
    }

    @Test func aClientThatKeepsReconnectingIsFlappingAndItsClientIDBannedWhenConfigured() async throws {
        var settings = DefenderService.Settings()
        settings.deviceRules.flapping.threshold = 3
        settings.deviceRules.flapping.response = .ban(seconds: 300)
        let defender = try await defender(settings)
        func connected(_ principal: String, method: AuthenticationRecord.Method = .sas) throws {
            bus.publish(
                .authentication(
                    AuthenticationRecord(
                        tenantID: .defaultTenant, principal: principal, peerAddress: try address("192.0.2.1"),
                        protocolName: "mqtt", method: method, isAccepted: true, failure: nil,
                        certificateThumbprint: nil,
                        referenceID: "r", at: Date())))
        }
        try connected("steady")
        try connected("steady")
        for _ in 0..<3 { try connected("flappy") }
        let alert = try await waitFor { try await defender.alerts(status: .open).first }
        #expect(alert.rule == DefenderService.RuleName.flapping && alert.subject == "device default/flappy")
        #expect(alert.tenantID == .defaultTenant && alert.severity == .medium)
        // Banned in its own tenant only: another tenant's device of that id is not touched.
        let ban = try await waitFor { defender.ban(of: try DeviceID("flappy"), in: .defaultTenant) }
        #expect(ban.alertID == alert.id)
        #expect(defender.ban(of: try DeviceID("flappy"), in: try TenantID("other")) == nil)
        #expect(defender.ban(ofClientID: "flappy") == nil)
        // A service's principal is not a client id: alerted, never banned.
        for _ in 0..<3 { try connected("$service/reader", method: .service) }
        _ = try await waitFor { try await defender.alerts(status: .open).first { $0.subject.hasSuffix("reader") } }
        #expect(defender.bans().count == 1)
    }

    /// The alerts of the address rule, newest first.
    /// Two nodes' Defenders, each on its own bus: one address's guesses spread over both are summed once they
    /// share their counts, and fire once; what fired on one starts again on the other. Another node's word is
    /// taken only for the rules counted here, between nothing and a billion, and lasts a few seconds.
    @Test func guessesSpreadOverTwoNodesAreSummedWhenTheyShareTheirCounts() async throws {
        let (nodeA, nodeB) = (UUID(), UUID())
        let (a, busA) = try await sharingNode(nodeA)
        let (b, busB) = try await sharingNode(nodeB)
        let attacker = try address("192.0.2.77")
        func guess(on bus: EventBus, from peer: IPAddress? = nil) { self.guess(on: bus, from: peer ?? attacker) }
        for _ in 0..<12 { guess(on: busA) }
        for _ in 0..<7 { guess(on: busB) }
        b.takeCounts(a.sharedCounts(at: Date()), from: nodeA, at: Date())
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await addressAlerts(b).isEmpty, "12 + 7 guesses raise nothing")
        guess(on: busB)
        let raised = try await waitFor { try await addressAlerts(b).first }
        #expect(raised.subject == "address 192.0.2.77" && raised.count == 1)
        // A word sent before its node heard of the firing does not make B fire again at its next guess.
        let beforeHearing = SharedCounts.Window(
            rule: DefenderService.authFailuresRule, key: "192.0.2.77/32", estimate: 19)
        b.takeCounts(SharedCounts(windows: [beforeHearing]), from: nodeA, at: Date())
        guess(on: busB)
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await addressAlerts(b).map(\.count) == [1])
        // B's firing reaches A: A's count starts again, and the next guesses there raise nothing new.
        let fromB = b.sharedCounts(at: Date())
        #expect(fromB.fired == [SharedCounts.Key(rule: DefenderService.authFailuresRule, key: "192.0.2.77/32")])
        a.takeCounts(fromB, from: nodeB, at: Date())
        #expect(a.sharedCounts(at: Date()).windows.isEmpty)
        for _ in 0..<5 { guess(on: busA) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await addressAlerts(a).map(\.count) == [1])

        // Hostile or broken words: an unknown rule, estimates that are not numbers or below nothing.
        b.takeCounts(
            SharedCounts(windows: [
                .init(rule: "made.up", key: "x", estimate: 1e6),
                .init(rule: DefenderService.authFailuresRule, key: "192.0.2.78/32", estimate: .nan),
                .init(rule: DefenderService.authFailuresRule, key: "192.0.2.78/32", estimate: -50),
                .init(
                    rule: DefenderService.authFailuresRule, key: String(repeating: "k", count: 250_000), estimate: 1),
            ]), from: UUID(), at: Date())
        #expect(b.sharedCounts(at: Date()).windows.isEmpty)
        #expect(b.counts.withLock { $0.elsewhere.values.allSatisfy(\.isEmpty) }, "no word kept")
        // At most 32 nodes' words about one source: forty saying half a guess each make sixteen, not twenty.
        let crowd = try address("192.0.2.79")
        for _ in 0..<40 {
            b.takeCounts(
                SharedCounts(windows: [
                    .init(rule: DefenderService.authFailuresRule, key: "192.0.2.79/32", estimate: 0.5)
                ]),
                from: UUID(), at: Date())
        }
        guess(on: busB, from: crowd)
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await addressAlerts(b).count == 1, "16 + 1 raise nothing")
        // A word not repeated stops counting after a few seconds.
        b.takeCounts(
            SharedCounts(windows: [.init(rule: DefenderService.authFailuresRule, key: "192.0.2.78/32", estimate: 19)]),
            from: UUID(), at: Date().addingTimeInterval(-DefenderService.sharedCountsLast - 1))
        guess(on: busB, from: try address("192.0.2.78"))
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await addressAlerts(b).count == 1, "a stale word does not count")
    }

    /// The last guess on each node was counted before the other's word arrived: the words alone bring the sum to
    /// the threshold, and the node with the lower id fires, once; the other leaves it to that node.
    @Test func theSharesAloneFireTheWindowOnTheNodeWithTheLowerID() async throws {
        let lower = try #require(UUID(uuidString: "00000000-0000-0000-0000-000000000001"))
        let higher = try #require(UUID(uuidString: "FFFFFFFF-0000-0000-0000-000000000001"))
        let (a, busA) = try await sharingNode(lower)
        let (b, busB) = try await sharingNode(higher)
        let attacker = try address("192.0.2.80")
        for _ in 0..<12 { guess(on: busA, from: attacker) }
        for _ in 0..<8 { guess(on: busB, from: attacker) }
        try await Task.sleep(for: .milliseconds(100))
        let (fromA, fromB) = (a.sharedCounts(at: Date()), b.sharedCounts(at: Date()))
        b.takeCounts(fromA, from: lower, at: Date())
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await addressAlerts(b).isEmpty, "the node with the higher id leaves it to the other")
        a.takeCounts(fromB, from: higher, at: Date())
        let raised = try await waitFor { try await addressAlerts(a).first }
        #expect(raised.subject == "address 192.0.2.80" && raised.count == 1)
        // Its firing reaches the other node, which starts again; neither fires twice.
        b.takeCounts(a.sharedCounts(at: Date()), from: lower, at: Date())
        a.takeCounts(fromB, from: higher, at: Date())
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await addressAlerts(a).map(\.count) == [1])
        #expect(b.sharedCounts(at: Date()).windows.isEmpty)
    }

    /// The lower node never heard the higher one's word (lost on the way): the higher one, whose sum of the words
    /// reaches the threshold, waits for it, and fires itself once the sum has stood for as long as a word counts.
    @Test func aHigherNodeFiresWhenTheLowerOneDoesNot() async throws {
        let lower = try #require(UUID(uuidString: "00000000-0000-0000-0000-000000000002"))
        let higher = try #require(UUID(uuidString: "FFFFFFFF-0000-0000-0000-000000000002"))
        let (a, busA) = try await sharingNode(lower)
        let (b, busB) = try await sharingNode(higher)
        let attacker = try address("192.0.2.81")
        for _ in 0..<12 { guess(on: busA, from: attacker) }
        for _ in 0..<8 { guess(on: busB, from: attacker) }
        _ = b.sharedCounts(at: Date())
        let fromA = a.sharedCounts(at: Date())
        let start = Date()
        for offset in [0.0, 1, 2] { b.takeCounts(fromA, from: lower, at: start.addingTimeInterval(offset)) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await addressAlerts(b).filter { $0.subject == "address 192.0.2.81" }.isEmpty, "waiting")
        b.takeCounts(fromA, from: lower, at: start.addingTimeInterval(DefenderService.sharedCountsLast + 0.5))
        let raised = try await waitFor {
            try await addressAlerts(b).first { $0.subject == "address 192.0.2.81" }
        }
        #expect(raised.count == 1)
    }

    /// A Defender on a bus of its own, sharing its counts as `node`, with the address rule's threshold at 20.
    func sharingNode(_ node: UUID) async throws -> (DefenderService, EventBus) {
        var settings = DefenderService.Settings()
        settings.authFailureThreshold = 20
        let bus = EventBus()
        let defender = DefenderService(store: database, bus: bus, settings: settings, clock: SystemClock())
        try await defender.load()
        defender.follow(bus)
        defender.shareCounts(as: node)
        return (defender, bus)
    }

    /// A refused guess at a device's key from `peer`, told on `bus`.
    func guess(on bus: EventBus, from peer: IPAddress) {
        bus.publish(
            .authentication(
                AuthenticationRecord(
                    tenantID: .defaultTenant, principal: "meter-\(UUID())", peerAddress: peer, protocolName: "mqtt",
                    method: .sas, isAccepted: false, failure: .sasSignatureMismatch, isCredentialFailure: true,
                    guessedDevice: nil, certificateThumbprint: nil, referenceID: "r", at: Date())))
    }

    func addressAlerts(_ defender: DefenderService) async throws -> [Alert] {
        try await defender.alerts(status: nil).filter { $0.rule == DefenderService.authFailuresRule }
    }

    /// Polls `body` until it gives a value (the rule raises in a task of its own).
    func waitFor<T>(_ body: () async throws -> T?) async throws -> T {
        for _ in 0..<100 {
            if let value = try await body() { return value }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw WardenError(.internalError, "Nothing came within 2 s.")
    }
}

extension DefenderServiceTests {
    /// A node that may have missed other nodes' notices reads the quarantines again: one put in force elsewhere
    /// and one lifted elsewhere reach its bus (the policy's risk level follows), one it knew stays quiet.
    @Test func reloadingTellsTheQuarantinesChangedElsewhere() async throws {
        let now = Date()
        _ = try await database.createTenant(
            Tenant(id: .defaultTenant, hostName: .localhost, createdAt: now), etag: "t")
        for id in ["kept", "lifted", "new"] {
            _ = try await database.createDevice(
                Device(
                    tenantID: .defaultTenant, id: try DeviceID(id), generationID: "g1", etag: "e1", status: .enabled,
                    statusReason: nil, statusUpdatedAt: now, authentication: .sas(.random()), attributes: [:],
                    createdAt: now, updatedAt: now))
        }
        func quarantine(_ id: String) throws -> Quarantine {
            Quarantine(
                tenantID: .defaultTenant, deviceID: try DeviceID(id), level: "high", reason: "tests", createdAt: now,
                createdBy: "user:ada")
        }
        try await database.saveQuarantine(quarantine("kept"))
        try await database.saveQuarantine(quarantine("lifted"))
        let defender = try await defender()
        // Another node's changes, straight to the store: this node heard no notice.
        _ = try await database.removeQuarantine(.defaultTenant, try DeviceID("lifted"))
        try await database.saveQuarantine(quarantine("new"))
        let seen = Mutex<[String]>([])
        _ = bus.observeWithOrigin { event, origin in
            guard origin == .otherNode else { return }
            switch event {
            case .quarantined(let quarantine): seen.withLock { $0.append("+\(quarantine.deviceID)") }
            case .released(_, let deviceID): seen.withLock { $0.append("-\(deviceID)") }
            default: break
            }
        }
        try await defender.reload()
        #expect(seen.withLock { $0.sorted() } == ["+new", "-lifted"])
        try await defender.reload()
        #expect(seen.withLock { $0.count } == 2)
    }
}
