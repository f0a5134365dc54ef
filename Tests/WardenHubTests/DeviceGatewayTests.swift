import Crypto
import Foundation
import Logging
import Synchronization
import Testing
import WardenAuthentication
import WardenAzure
import WardenCore
import WardenPolicy
import WardenRegistry
import WardenSecurity
import WardenStore

@testable import WardenBroker
@testable import WardenHub

/// What the bus carried.
final class Recorded: Sendable {
    let list = Mutex<[AuthenticationRecord]>([])
}

/// The HTTPS device API's hub side: a request proves its device like a CONNECT (and is recorded), and its
/// telemetry is stored before the call returns.
struct DeviceGatewayTests {
    let hub: HubFixture
    let registry: RegistryService
    let directory = DeviceDirectory()
    let gateway: DeviceGateway
    let device: DeviceID
    let key: SASKeyPair
    let records = Recorded()
    let loopback: IPAddress

    init() async throws {
        hub = try HubFixture()
        directory.follow(hub.bus)
        registry = RegistryService(stores: .init(hub.database), bus: hub.bus, hubHostName: try HostName("hub.example"))
        _ = try await registry.ensureDefaultTenant()
        device = try DeviceID("meter-1")
        guard case .sas(let keys) = try await registry.createDevice(.defaultTenant, .init(id: device)).authentication
        else { throw WardenError(.internalError, "not a SAS device") }
        key = keys
        let logger = Logger(label: "test")
        let cloudToDevice = try await CloudToDeviceService(
            configuration: .init(), store: hub.database, persistence: hub.persistence, broker: hub.broker,
            clock: SystemClock(), logger: logger)
        let twins = try await TwinService(
            store: hub.database, persistence: hub.persistence, broker: hub.broker, clock: SystemClock())
        hub.broker.install(
            HubTraffic(
                telemetry: TelemetryIngest(lastSequence: 0, clock: SystemClock(), logger: logger),
                cloudToDevice: cloudToDevice, twins: twins, methods: MethodService(broker: hub.broker),
                presence: DevicePresence(broker: hub.broker, clock: SystemClock())))
        gateway = DeviceGateway(
            authenticator: DeviceAuthenticator(directory: directory), authorizer: PolicyAuthorizer(directory),
            broker: hub.broker,
            persistence: hub.persistence, cloudToDevice: cloudToDevice, events: hub.bus, clock: SystemClock())
        loopback = try #require(IPAddress("127.0.0.1"))
        hub.bus.observe { [records] event in
            if case .authentication(let record) = event { records.list.withLock { $0.append(record) } }
        }
    }

    private func token(_ secret: SecretBytes? = nil) -> String {
        SASTokenSigner.token(
            resource: "hub.example/devices/meter-1", key: SymmetricKey(data: (secret ?? key.primary).bytes),
            expiry: UInt64(Date().timeIntervalSince1970) + 3600)
    }

    private func authenticate(_ authorization: String?, deviceID: String = "meter-1") async throws -> DeviceSender {
        try await gateway.authenticate(
            authorization: authorization, certificates: [], hostName: "hub.example", deviceID: deviceID,
            peer: loopback)
    }

    private func refusal(_ authorization: String?, deviceID: String = "meter-1") async -> WardenError? {
        do {
            _ = try await authenticate(authorization, deviceID: deviceID)
            return nil
        } catch {
            return error as? WardenError
        }
    }

    @Test func aValidTokenIsTheDeviceAndEveryOutcomeIsRecordedOnce() async throws {
        let sender = try await authenticate(token())
        #expect(sender.deviceID == device && sender.tenantID == .defaultTenant && sender.authMethod == .sas)
        let wrong = await refusal(token(.random(count: 32)))
        #expect(wrong?.code == .authInvalidCredential)
        #expect(await refusal(nil)?.code == .authInvalidCredential)
        #expect(await refusal(token(), deviceID: "not a device id")?.code == .authInvalidCredential)
        let seen = records.list.withLock { $0 }
        #expect(seen.map(\.isAccepted) == [true, false, false, false])
        #expect(seen.allSatisfy { $0.protocolName == "https" && $0.peerAddress == loopback })
        #expect(seen.last?.failure == .deviceInvalidID)
        // The client hears the record's reference id, never the reason.
        #expect(wrong.map { $0.reason.contains(seen[1].referenceID) } == true)
    }

    @Test func aDisabledDeviceIsForbiddenNotUnknown() async throws {
        _ = try await registry.updateDevice(.defaultTenant, device, .init(status: .disabled), ifMatch: nil)
        #expect(await refusal(token())?.code == .authForbidden)
    }

    @Test func thePolicyDecidesHTTPSRequests() async throws {
        let sender = try await authenticate(token())
        let document = """
            {"statements": [
              {"id": "no-https-telemetry", "effect": "deny", "principals": {"devices": ["*"]}, "actions": ["publish"],
               "conditions": {"protocols": ["https"]}},
              {"id": "no-https-c2d", "effect": "deny", "principals": {"devices": ["*"]}, "actions": ["receive"],
               "conditions": {"protocols": ["https"]}}
            ]}
            """
        _ = try await registry.writeAuthorizationPolicy(.defaultTenant, document: Array(document.utf8), author: "test")
        await #expect(throws: WardenError.self) {
            try await gateway.sendTelemetry(from: sender, properties: [], body: [1], peer: loopback)
        }
        await #expect(throws: WardenError.self) {
            _ = try await gateway.receive(for: sender, lockSeconds: nil, peer: loopback)
        }
        let lost = """
            {"statements": [{"id": "lost", "effect": "deny", "principals": {"devices": ["*"]}, "actions": ["connect"]}]}
            """
        _ = try await registry.writeAuthorizationPolicy(.defaultTenant, document: Array(lost.utf8), author: "test")
        #expect(await refusal(token())?.code == .authForbidden)
    }

    @Test func telemetryIsStoredBeforeTheCallReturns() async throws {
        let sender = try await authenticate(token())
        try await gateway.sendTelemetry(
            from: sender, properties: [.init("alert", "high")], body: Array("21.5".utf8), peer: loopback)
        let stored = try await hub.database.telemetry(
            .defaultTenant, device, from: 0, to: .max, afterSequence: 0, limit: 10)
        #expect(stored.map { String(decoding: $0.body, as: UTF8.self) } == ["21.5"])
        #expect(stored.first?.properties == "alert=high")
    }
}
