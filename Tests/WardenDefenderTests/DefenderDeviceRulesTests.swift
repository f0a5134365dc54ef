import Foundation
import Synchronization
import Testing
import WardenCore
import WardenStore

@testable import WardenDefender

/// The device rules on the service: a tenant's document in force at once and after a restart, behaviour
/// anomalies answered as the rule says (and audited as `defenderActed`), policy-denial bursts and abnormal
/// endings counted per device.
struct DefenderDeviceRulesTests {
    /// The same store and bus as the ban tests, and their helpers.
    let base: DefenderServiceTests
    var bus: EventBus { base.bus }
    var database: SQLiteDatabase { base.database }

    init() throws { base = try DefenderServiceTests() }

    func defender(_ settings: DefenderService.Settings = .init()) async throws -> DefenderService {
        try await base.defender(settings)
    }

    func waitFor<T>(_ body: () async throws -> T?) async throws -> T { try await base.waitFor(body) }

    func address(_ text: String) throws -> IPAddress { try base.address(text) }

    func sample(_ messages: Int, device: String = "meter-9") throws -> DeviceActivity {
        DeviceActivity(
            tenantID: .defaultTenant, deviceID: try DeviceID(device), seconds: 1, messages: messages,
            bytes: messages * 50, largestPayload: 50, topics: ["telemetry"], at: Date())
    }

    /// Every event the bus carries from now on.
    final class Recorder: Sendable {
        let events = Mutex<[DomainEvent]>([])
    }

    func recorder() -> Recorder {
        let recorder = Recorder()
        bus.observe { event in recorder.events.withLock { $0.append(event) } }
        return recorder
    }

    @Test func aTenantsDocumentIsInForceAtOnceAndAfterARestart() async throws {
        _ = try await database.createTenant(
            Tenant(id: .defaultTenant, hostName: try HostName("hub.example"), createdAt: Date()), etag: "e")
        let defender = try await defender()
        #expect(defender.rules(for: .defaultTenant) == DeviceRules())
        let rules = try await defender.setRules(
            "{\"behaviour\": {\"warmup\": 3, \"response\": \"disconnect\"}}", for: .defaultTenant)
        #expect(rules.behaviour.warmup == 3 && defender.rules(for: .defaultTenant) == rules)
        await #expect(throws: WardenError.self) {
            _ = try await defender.setRules("{\"behaviour\": {\"warmup\": 0}}", for: .defaultTenant)
        }
        await #expect(throws: WardenError.self) {
            _ = try await defender.setRules("{}", for: try TenantID("nobody"))
        }
        #expect(try await self.defender().rules(for: .defaultTenant) == rules, "read again at start")
        _ = try await defender.setRules(nil, for: .defaultTenant)
        #expect(defender.rules(for: .defaultTenant) == DeviceRules())
        #expect(try await defender.rulesDocument(for: .defaultTenant) == nil)
    }

    /// Resolved here or on another node (its notice reaches this node's bus), the alert makes the device's
    /// baseline learn again on the node that holds it.
    @Test(arguments: [false, true]) func aBurstFarAboveTheBaselineIsAnsweredAsTheRuleSays(resolvedElsewhere: Bool)
        async throws
    {
        var settings = DefenderService.Settings()
        settings.deviceRules.behaviour.warmup = 5
        settings.deviceRules.behaviour.response = .disconnect
        let defender = try await defender(settings)
        let events = recorder()
        for _ in 0..<8 { defender.activity(try sample(2)) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await defender.alerts(status: nil).isEmpty)
        defender.activity(try sample(100))
        let alert = try await waitFor { try await defender.alerts(status: .open).first }
        #expect(alert.rule == "behaviour.message-rate" && alert.subject == "device default/meter-9")
        let action = try await waitFor {
            events.events.withLock { events in
                events.lazy.compactMap { event -> DefenderAction? in
                    if case .defenderActed(let action) = event { return action }
                    return nil
                }.first
            }
        }
        #expect(action.kind == .disconnect && action.alertID == alert.id && action.target == alert.subject)
        #expect(events.events.withLock { $0.contains { if case .disconnectRequested = $0 { true } else { false } } })
        // Resolving the alert accepts the new behaviour: the device learns again, and 100/s is its warm-up.
        if resolvedElsewhere {
            let resolved = try await database.changeAlertStatus(alert.id, to: .resolved, by: "user:admin", at: Date())
            bus.publish(.alertChanged(try #require(resolved)), from: .otherNode)
        } else {
            _ = try await defender.setStatus(alert.id, .resolved, by: "user:admin")
        }
        for _ in 0..<3 { defender.activity(try sample(100)) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await defender.alerts(status: .open).isEmpty)
    }

    @Test func policyDenialBurstsAndAbnormalEndingsAreCountedPerDevice() async throws {
        var settings = DefenderService.Settings()
        settings.deviceRules.policyDenials.threshold = 3
        settings.deviceRules.abnormalDisconnects.threshold = 2
        let defender = try await defender(settings)
        let peer = try address("192.0.2.9")
        for index in 0..<3 {
            bus.publish(
                .authorizationDenied(
                    AuthorizationDenial(
                        tenantID: .defaultTenant, principal: "meter-3", peerAddress: peer, protocolName: "mqtt",
                        action: "publish", topic: "other/\(index)", unmetConditions: [], statementID: nil,
                        policyVersion: nil, referenceID: "r", at: Date(), deviceID: try DeviceID("meter-3"))))
        }
        let denials = try await waitFor {
            try await defender.alerts(status: .open).first { $0.rule == DefenderService.RuleName.policyDenials }
        }
        #expect(denials.subject == "device default/meter-3" && denials.summary.contains("other/2"))
        // Endings the client chose, or the server did, are not abnormal.
        for cause in [ConnectionEnding.Cause.clientDisconnect, .serverClosed, .keepAliveTimeout, .transportClosed] {
            defender.ended(
                ConnectionEnding(
                    tenantID: .defaultTenant, principal: "meter-4", deviceID: try DeviceID("meter-4"),
                    peerAddress: peer,
                    cause: cause, at: Date()))
        }
        let abnormal = try await waitFor {
            try await defender.alerts(status: .open).first { $0.rule == DefenderService.RuleName.abnormalDisconnects }
        }
        #expect(abnormal.subject == "device default/meter-4" && abnormal.severity == .low)
        #expect(abnormal.summary.contains("transport-closed"))
    }

    @Test func aFloodOfConnectionsFromOneAddressIsAlertedAndBannedWhenConfigured() async throws {
        var settings = DefenderService.Settings()
        settings.floodThreshold = 20
        settings.floodBan = 60
        let defender = try await defender(settings)
        // IPv6 counts per /64: an attacker walks its addresses for free.
        for index in 0..<19 { defender.accepted(from: try address("2001:db8::\(index + 1)")) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await defender.alerts(status: nil).isEmpty)
        defender.accepted(from: try address("2001:db8::ff"))
        let alert = try await waitFor { try await defender.alerts(status: .open).first }
        #expect(alert.rule == DefenderService.floodRule && alert.subject == "address 2001:db8::/64")
        let ban = try await waitFor { defender.ban(of: try address("2001:db8::1234")) }
        #expect(ban.subject == .address(try CIDR("2001:db8::/64")) && ban.alertID == alert.id)
        #expect(defender.ban(of: try address("2001:db8:0:1::1")) == nil, "the next /64 is someone else's")
    }

    @Test func httpsTelemetryIsSampledIntoTheSameBaseline() async throws {
        var settings = DefenderService.Settings()
        settings.sampleInterval = 1
        settings.deviceRules.behaviour.warmup = 3
        let defender = try await defender(settings)
        let device = try DeviceID("https-meter")
        var now = Date()
        // Three intervals of two requests, then one of two hundred.
        for _ in 0..<3 {
            for _ in 0..<2 {
                defender.deviceSent(
                    device, in: .defaultTenant, topic: "devices/https-meter/messages/events/a=1", bytes: 40)
            }
            now = now.addingTimeInterval(1.5)
            defender.sampleRequests(at: now)
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await defender.alerts(status: nil).isEmpty)
        for _ in 0..<200 {
            defender.deviceSent(device, in: .defaultTenant, topic: "devices/https-meter/messages/events/", bytes: 40)
        }
        defender.sampleRequests(at: Date())
        #expect(defender.requestTallies.withLock { $0.count } == 1, "a tally younger than its interval waits")
        defender.sampleRequests(at: Date().addingTimeInterval(1.5))
        let alert = try await waitFor { try await defender.alerts(status: .open).first }
        #expect(alert.rule == "behaviour.message-rate" && alert.subject == "device default/https-meter")
    }
}
