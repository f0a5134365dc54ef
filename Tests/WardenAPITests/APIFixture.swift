import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOPosix
import WardenAPI
import WardenAccess
import WardenAudit
import WardenAuthentication
import WardenBroker
import WardenCore
import WardenDefender
import WardenHub
import WardenPKI
import WardenPolicy
import WardenPortal
import WardenProvisioning
import WardenRegistry
import WardenSecurity
import WardenStore

/// The real router over a real registry and a temporary SQLite file, driven in-process by HummingbirdTesting.
struct APIFixture {
    static let credential = "wdn_test-credential"

    let router: APIRouter
    let portal: Portal
    let access: AccessService
    let audit: AuditLog
    let registry: RegistryService

    init() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("warden-api-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let database = try SQLiteDatabase(
            path: folder.appendingPathComponent("warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()))
        let bus = EventBus()
        registry = RegistryService(stores: .init(database), bus: bus, hubHostName: .localhost)
        let directory = DeviceDirectory()
        directory.follow(bus)
        _ = try await registry.ensureDefaultTenant()
        let logger = Logger(label: "test")
        let persistence = BrokerPersistence(store: database, clock: SystemClock(), logger: logger)
        // The writer runs for the process: each fixture has its own, idle once its test ends.
        Task { try await persistence.run() }
        let broker = Broker(
            configuration: .init(), timers: MultiThreadedEventLoopGroup.singleton.next(), persistence: persistence)
        let cloudToDevice = try await CloudToDeviceService(
            configuration: .init(), store: database, persistence: persistence, broker: broker, clock: SystemClock(),
            logger: logger)
        let twins = try await TwinService(
            store: database, persistence: persistence, broker: broker, clock: SystemClock())
        let hub = HubServices(
            telemetry: TelemetryReader(store: database, feed: TelemetryFeed()), cloudToDevice: cloudToDevice,
            twins: twins,
            methods: MethodService(broker: broker),
            devices: DeviceGateway(
                authenticator: DeviceAuthenticator(directory: directory), authorizer: PolicyAuthorizer(directory),
                broker: broker, persistence: persistence, cloudToDevice: cloudToDevice, events: bus,
                clock: SystemClock()),
            presence: DevicePresence(broker: broker, clock: SystemClock()))
        var settings = AccessService.Settings()
        // Cheap hashes: the cost's own timing is measured in the benchmarks, not here.
        settings.passwordCost = .init(rounds: 1 << 4, blockSize: 8, parallelism: 1)
        access = try await AccessService(store: database, settings: settings, clock: SystemClock(), logger: logger)
        access.follow(bus)
        _ = try await access.ensureBootstrapAdmin(
            username: "admin", credentialHash: BearerCredential.hash(SecretBytes(Array(Self.credential.utf8))))
        let chain = AuditChain(key: .random(count: 32))
        audit = try await AuditLog(
            store: database, chain: chain, head: nil, bufferLimit: 10_000, clock: SystemClock(), logger: logger)
        let audit = self.audit
        Task { try await audit.run() }
        let certificates = CertificateService(store: database, bus: bus, settings: .init(baseURL: "https://localhost"))
        let provisioning = ProvisioningService(store: database, registry: registry, twins: twins, bus: bus)
        let defender = DefenderService(store: database, bus: bus, settings: .init())
        // The server's gatherer reaches every service; here the audit and the report judge an empty hub, so that
        // their routes answer (the real gathering is tested against the binary in Interop/mqtt).
        defender.gatherAuditFacts { AuditFacts(now: Date()) }
        router = APIRouter(
            .init(
                registry: registry,
                certificates: certificates,
                provisioning: provisioning,
                policyFacts: directory, hub: hub, clock: SystemClock(), access: access,
                audit: audit,
                auditReader: AuditReader(store: database, chain: chain, head: nil),
                masterKey: EnvironmentMasterKey(),
                defender: defender,
                deviceGroups: { tenant, device, group in
                    directory.entry(tenant, device)?.groups.contains(group) ?? false
                },
                gatewayHostName: "localhost", isReady: { true },
                metricsText: { "" }, version: "test", logger: Logger(label: "test")))
        portal = Portal(
            .init(
                registry: registry, certificates: certificates, provisioning: provisioning, defender: defender,
                hub: hub,
                access: access,
                auditReader: AuditReader(store: database, chain: chain, head: nil), clock: SystemClock(),
                gatewayHostName: "localhost", refreshLifetime: 86_400, policyFacts: directory))
    }

    /// Runs `body` with a client of the router (the API and the portal, as the server mounts them).
    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let httpsRouter = router.makeRouter(portalPaths: Portal.paths, portalPrefixes: Portal.prefixes)
        portal.register(on: httpsRouter)
        try await Application(router: httpsRouter).test(.router, body)
    }
}

extension TestResponse {
    /// The body decoded as an RFC 9457 problem.
    var problem: Problem? { try? JSONDecoder().decode(Problem.self, from: Data(body.readableBytesView)) }
    var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
    }
}

extension HTTPFields {
    static let admin: HTTPFields = [
        .authorization: "Bearer \(APIFixture.credential)", .contentType: "application/json",
    ]
}

/// A master key as `WARDEN_MASTER_KEY` gives it: shown, never rotated (the rotation itself runs in the server's
/// tests and against the binary).
struct EnvironmentMasterKey: MasterKeyManaging {
    func status() -> MasterKeyStatus {
        MasterKeyStatus(keyID: "00112233aabbccdd", source: "environment", rotating: false)
    }

    func rotate() async throws -> MasterKeyRotationReport {
        throw WardenError(.masterKeyNotRotatable, "The master key comes from WARDEN_MASTER_KEY.")
    }
}
