import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals
import WardenAMQPEndpoint
import WardenAPI
import WardenAccess
import WardenAudit
import WardenAuthentication
import WardenBroker
import WardenCluster
public import WardenCore
import WardenDefender
import WardenHub
import WardenMQTT
import WardenNATS
import WardenPKI
import WardenPolicy
import WardenPortal
import WardenProvisioning
import WardenRegistry
import WardenSecurity
import WardenStore
import WardenTLS

/// The composition root: reads nothing itself but the configuration it is handed, builds every component,
/// and runs them in one service group until SIGTERM or SIGINT.
public enum WardenServer {
    /// What `warden serve` tells the operator once the hub listens.
    public struct StartupReport: Sendable {
        /// The management API's base URL.
        public let url: String
        /// The data directory in use.
        public let dataDirectory: String
        /// The development CA certificate clients should trust, when it is in use.
        public let caCertificatePath: String?
        /// The bootstrap admin credential, only on the start that created it.
        public let newAdminCredential: SecretBytes?
        /// Where the CLI finds the admin credential.
        public let adminCredentialPath: String
        /// Where the platform administrator's first (one-time) password was written.
        public let adminPasswordPath: String
        /// The hub's host name.
        public let hubHostName: String
        /// The MQTT listeners, as URLs (`mqtts://localhost:8883`, `mqtt://127.0.0.1:1883`).
        public let mqttURLs: [String]
        /// The AMQP listener, when enabled (`amqps://localhost:5671`).
        public let amqpURL: String?
    }

    /// Starts the hub and returns when it has shut down.
    public static func run(
        _ configuration: ServerConfiguration, version: String, onReady: @escaping @Sendable (StartupReport) -> Void
    ) async throws {
        MemoryTuning.apply()
        LoggingSetup.bootstrap(format: configuration.logFormat, level: configuration.logLevel)
        let logger = Logger(label: "warden")
        let prometheus = PrometheusCollectorRegistry()
        var metricsFactory = PrometheusMetricsFactory(registry: prometheus)
        metricsFactory.durationHistogramBuckets[EventLoopLagMonitor.label] = EventLoopLagMonitor.buckets
        MetricsSystem.bootstrap(metricsFactory)

        let clock = KernelClock(trust: configuration.policy.clock)
        if !clock.isSynchronized {
            logger.warning(
                "The kernel does not report the clock as synchronised (NTP): time conditions of strict policies do not hold until it is (policy.clock)."
            )
        }
        let directory = DataDirectory(path: configuration.dataDirectory)
        try directory.prepare()
        // An HSM, when configured, is open for the process: it unwraps the master key and signs for CAs.
        let hardware = try configuration.hsm.map(HardwareKey.init)
        let masterKey = try MasterKeyLoader.load(
            directory, override: configuration.masterKeyOverride, hardware: hardware)
        let sealer = masterKey.ring
        let (database, embedded) = try await openStore(configuration.store, directory, sealer, clock, logger)
        BackupMaker.removeStaleSnapshots(in: directory)
        let masterKeyRotation = MasterKeyRotation(
            masterKey, directory: directory, hardware: hardware, store: database, isShared: embedded == nil,
            clock: clock)
        // A rotation the last process did not finish is finished before anything is served. If it cannot be, the
        // server runs with both keys (every value opens) and says so; `warden keys rotate-master` tries again.
        do {
            if let report = try await masterKeyRotation.resumeIfPending() {
                logger.notice(
                    "Finished the master-key rotation the last run left under way.",
                    metadata: ["key.id": "\(report.keyID)", "key.previous": "\(report.previousKeyID)"])
            }
        } catch {
            logger.error(
                "Could not finish the master-key rotation the last run left under way; serving with both keys.",
                metadata: ["error": "\(error)"])
        }
        let tls = try TLSMaterial.load(
            configuration.tls, directory: directory, hubHostName: configuration.hubHostName, sealer: sealer,
            now: clock.now())

        let bus = EventBus()
        let deviceDirectory = DeviceDirectory()
        deviceDirectory.follow(bus)
        let registry = RegistryService(
            stores: .init(database), bus: bus, hubHostName: configuration.hubHostName,
            policyVersionsKept: configuration.policy.versionsKept, clock: clock)
        try await deviceDirectory.load(
            tenants: database, devices: database, groups: database, admission: database, policies: database,
            authorities: database, authorizationPolicies: database)
        let certificates = CertificateService(
            store: database, bus: bus, settings: pkiSettings(configuration), hardware: hardware, clock: clock)
        certificates.follow(bus)
        try await certificates.loadRevocationLists()
        if try await registry.ensureDefaultTenant() {
            logger.info("Created the default tenant.", metadata: ["tenant.id": "default"])
        }
        let credential = try await BootstrapCredential.ensure(database, directory: directory, now: clock.now())
        // The periodic jobs one node of a cluster does for all; a node alone does them.
        let duty = PeriodicDuty()
        let access = try await AccessService(
            store: database, settings: configuration.access, clock: clock, logger: logger, duty: duty)
        access.follow(bus)
        if let password = try await access.ensureBootstrapAdmin(
            username: BootstrapCredential.adminUsername, credentialHash: credential.hash)
        {
            try directory.write(Data(password.bytes + [UInt8(ascii: "\n")]), to: directory.adminPassword, mode: 0o600)
            logger.info(
                "Created the platform administrator.",
                metadata: ["user.name": "\(BootstrapCredential.adminUsername)", "file": "\(directory.adminPassword)"])
        }
        // Derived from the master key the first time, then kept sealed: a rotation re-seals it, the chain holds.
        let auditChain = AuditChain(
            key: try await database.dataKey(
                AuditChain.keyLabel, orStore: masterKey.stored.derivedKey(label: AuditChain.keyLabel)))
        let auditHead = AuditHead(path: directory.auditHead)
        let audit = try await AuditLog(
            store: database, chain: auditChain, head: auditHead, bufferLimit: configuration.audit.bufferLimit,
            clock: clock, logger: logger)
        AuditRecorder(log: audit).follow(bus)
        let auditRetention = AuditRetention(
            store: database, log: audit, retentionDays: configuration.audit.retentionDays, clock: clock,
            logger: logger, duty: duty)
        if masterKey.isNew { logger.info("Created a master key.", metadata: ["file": "\(directory.masterKey)"]) }

        // One TLS context for every listener (MQTT/TLS and HTTPS), replaced together on SIGHUP.
        let tlsSlot = TLSContextSlot(try makeTLSContext(tls, minimum: configuration.tls.minimumVersion))
        let telemetryFeed = TelemetryFeed(clock: clock)
        let persistence = BrokerPersistence(
            store: database, clock: clock, logger: logger,
            node: configuration.cluster.isEnabled ? configuration.cluster.node : nil,
            afterCommit: telemetryFeed.committed)
        // One authorizer for MQTT, its per-delivery check and the HTTPS device API.
        let twinSource = TwinSource()
        let authorizer = PolicyAuthorizer(deviceDirectory, events: bus, clock: clock, twins: twinSource)
        // The Defender: bans answered from memory before TLS and at CONNECT, and the rules on the bus.
        let defender = DefenderService(
            store: database, bus: bus, settings: Self.defenderSettings(configuration),
            control: HubDeviceControl(registry: registry, certificates: certificates), clock: clock, duty: duty)
        try await defender.load()
        defender.follow(bus)
        let alertWebhook = configuration.defender.webhookURL.map { url in
            AlertWebhook(
                url: url, secret: configuration.defender.webhookSecret ?? SecretBytes([]),
                post: { url, headers, body in await OutboundHTTP.post(url, headers: headers, body: body) })
        }
        alertWebhook?.follow(bus)
        // External CAs' OCSP responders, asked at connection by every protocol's authenticator alike.
        let ocsp = OCSPStatusCache(
            check: OCSPCheck(fetch: OCSPFetch.post), lifetime: TimeInterval(configuration.pki.ocspCache))
        // Per source address, across the device listeners (MQTT, WebSocket, AMQP): connects a second and
        // connections not yet authenticated.
        let limiter = ConnectRateLimiter(configuration: configuration.mqtt.connectRate)
        let pending = PendingConnections(
            limits: .init(perAddress: configuration.mqtt.maximumPendingPerIP, total: configuration.mqtt.maximumPending))
        let (broker, mqttListeners, webSocket) = try await makeMQTTListeners(
            configuration, tls: tlsSlot, directory: deviceDirectory, authorizer: authorizer, bus: bus,
            persistence: persistence, database: database, ocsp: ocsp, gate: defender, observer: defender,
            limiter: limiter, pending: pending, clock: clock, logger: logger)
        AlertTopics(broker: broker).follow(bus)
        let node = UUID()
        // A cluster's nodes stamp what they number with a slot each: numbers never repeat across nodes.
        let slotLease =
            configuration.cluster.isEnabled
            ? try await NodeSlotLease.lease(
                node: node.uuidString, name: configuration.cluster.node, store: database, clock: clock, logger: logger)
            : nil
        if let slotLease { duty.assign { slotLease.isFirst } }
        let telemetry = TelemetryIngest(
            lastSequence: try await database.lastTelemetrySequence(), slot: slotLease?.slot, clock: clock,
            logger: logger)
        let cloudToDevice = try await CloudToDeviceService(
            configuration: configuration.cloudToDevice, store: database, persistence: persistence, broker: broker,
            slot: slotLease?.slot, settlesExpiry: { sequence in slotLease?.settles(sequence) ?? true }, clock: clock,
            logger: logger)
        let twins = try await TwinService(
            store: database, persistence: persistence, broker: broker, clock: clock, events: bus)
        twinSource.attach(twins)
        let provisioning = ProvisioningService(
            store: database, registry: registry, twins: twins, certificates: certificates, directory: deviceDirectory,
            bus: bus, clock: clock)
        provisioning.follow(bus)
        try await provisioning.load { try await allTenantIDs(registry) }
        broker.install(provisioning: provisioning)
        let cluster = makeClusterNode(
            configuration, id: node, broker: broker, bus: bus, database: database, logger: logger
        ) {
            // What a node that may have missed other nodes' notices reads again: the directory every connection
            // is authenticated and authorized from, the bans and quarantines (each with what changed meanwhile
            // on the bus, so that connections they concern close), the people and services the API knows (and
            // the sessions signed out), the cloud-to-device queues, twins, enrollments and provisioning's CAs, the
            // external CAs' CRLs (put in force in the directory through the bus), and the retained messages.
            let changed = try await deviceDirectory.reload(
                tenants: database, devices: database, groups: database, admission: database, policies: database,
                authorities: database, authorizationPolicies: database)
            for event in changed { bus.publish(event, from: .otherNode) }
            try await defender.reload()
            try await access.reload()
            try await cloudToDevice.reload()
            try await twins.reload(from: database)
            try await provisioning.load { try await allTenantIDs(registry) }
            try await certificates.loadRevocationLists(announcedFrom: .otherNode)
            broker.reconcileRetained(try await database.loadRetainedMessages())
        }
        let methods = MethodService(broker: broker)
        cluster?.relayMethods(methods) {
            slotLease?.otherNodes ?? 0
        } recount: {
            await slotLease?.recountOtherNodes() ?? 0
        }
        cluster?.relayFeed(telemetryFeed, store: database)
        cluster?.refreshTwinsOfMovedSessions(twins, from: database)
        cloudToDevice.follow(bus)
        twins.follow(bus)
        let presence = DevicePresence(broker: broker, clock: clock)
        cluster?.shareCounts(of: defender)
        cluster?.relayPresence(presence) {
            slotLease?.otherNodes ?? 0
        } recount: {
            await slotLease?.recountOtherNodes() ?? 0
        }
        broker.install(
            HubTraffic(
                telemetry: telemetry, cloudToDevice: cloudToDevice, twins: twins, methods: methods, presence: presence))
        let auditFacts = AuditFactsGatherer(
            configuration: configuration, directory: deviceDirectory, registry: registry, certificates: certificates,
            access: access, broker: broker, presence: presence, defender: defender, clock: clock)
        defender.gatherAuditFacts { try await auditFacts.gather() }
        let hub = HubServices(
            telemetry: TelemetryReader(store: database, feed: telemetryFeed, settled: telemetry.settledSequence),
            cloudToDevice: cloudToDevice,
            twins: twins, methods: methods,
            devices: DeviceGateway(
                authenticator: DeviceAuthenticator(directory: deviceDirectory, ocsp: ocsp, gate: defender),
                authorizer: authorizer,
                broker: broker,
                persistence: persistence, cloudToDevice: cloudToDevice, events: bus, observer: defender, clock: clock),
            presence: presence)
        let retention = TelemetryRetention(
            store: database, retention: .seconds(configuration.telemetry.retentionDays * 86_400), clock: clock,
            logger: logger, duty: duty)
        var mqttURLs: [String] = []
        for (scheme, listener) in mqttListeners {
            do {
                let address = try await listener.bind()
                mqttURLs.append("\(scheme)://\(scheme == "mqtts" ? "localhost" : "127.0.0.1"):\(address?.port ?? 0)")
            } catch {
                throw WardenError(
                    .listenerUnavailable, "Cannot listen for \(scheme): \(error). Is another server running there?")
            }
        }
        let reportedMQTTURLs = mqttURLs
        let amqpListener =
            configuration.amqp.enabled
            ? makeAMQPListener(
                configuration, tls: tlsSlot, hub: hub, limiter: limiter, pending: pending, gate: defender,
                events: bus, clock: clock, logger: logger) : nil
        var amqpURL: String?
        if let amqpListener {
            do {
                amqpURL = "amqps://localhost:\(try await amqpListener.bind()?.port ?? 0)"
            } catch {
                throw WardenError(
                    .listenerUnavailable, "Cannot listen for amqps: \(error). Is another server running there?")
            }
        }
        let reportedAMQPURL = amqpURL
        // total: a configured number of seconds, range-checked when read.
        let systemTopics = SystemTopics(
            broker: broker, interval: .seconds(Int64(configuration.mqtt.systemTopicsInterval)), version: version,
            relay: configuration.mqtt.systemTopicsInterval > 0 ? cluster?.relaySystemFigures() : nil)
        let served = Mutex(tls.certificateChainPEM)
        let reloader = TLSReloadService(
            reload: {
                let material = try TLSMaterial.load(
                    configuration.tls, directory: directory, hubHostName: configuration.hubHostName, sealer: sealer,
                    now: clock.now())
                let minimum = configuration.tls.minimumVersion
                tlsSlot.replace(with: try makeTLSContext(material, minimum: minimum))
                return served.withLock { served in
                    defer { served = material.certificateChainPEM }
                    return served != material.certificateChainPEM
                }
            },
            // total: a configured number of seconds, range-checked when read.
            renewalCheck: tls.caCertificatePath == nil ? nil : .seconds(Int64(configuration.tls.renewalCheck)),
            logger: logger)

        let router = APIRouter(
            .init(
                registry: registry, certificates: certificates, provisioning: provisioning,
                policyFacts: deviceDirectory,
                hub: hub,
                clock: clock,
                access: access, audit: audit,
                auditReader: AuditReader(store: database, chain: auditChain, head: auditHead),
                masterKey: masterKeyRotation,
                backup: BackupMaker(
                    directory: directory, database: embedded, ring: masterKey.ring, rotation: masterKeyRotation,
                    masterKeyIsWrapped: masterKey.source == .hsm, events: bus, clock: clock),
                defender: defender, alertWebhook: alertWebhook,
                deviceGroups: { tenant, device, group in
                    deviceDirectory.entry(tenant, device)?.groups.contains(group) ?? false
                },
                gatewayHostName: configuration.hubHostName.rawValue,
                // Not ready while a writer cannot write: a load balancer sends new work elsewhere.
                isReady: {
                    await database.isReachable() && persistence.canWrite && audit.canWrite
                        && cluster?.isReady ?? true
                },
                canWrite: { persistence.canWrite && audit.canWrite },
                metricsText: { prometheus.emitToString() }, version: version, logger: logger))
        let httpsRouter = router.makeRouter(portalPaths: Portal.paths, portalPrefixes: Portal.prefixes)
        Portal(
            .init(
                registry: registry, certificates: certificates, provisioning: provisioning, defender: defender,
                hub: hub,
                access: access,
                auditReader: AuditReader(store: database, chain: auditChain, head: auditHead), clock: clock,
                gatewayHostName: configuration.hubHostName.rawValue,
                refreshLifetime: configuration.access.refreshTokenLifetime, policyFacts: deviceDirectory)
        ).register(on: httpsRouter)
        // total: a configured number of seconds, range-checked when read.
        let firstRequestLimits = FirstRequestLimits(
            timeout: .seconds(Int64(configuration.https.firstRequestTimeout)),
            maximumHeaderBytes: configuration.https.maximumHeaderBytes,
            requestTimeout: .seconds(Int64(configuration.https.requestTimeout)),
            pending: PendingConnections(
                limits: .init(
                    perAddress: configuration.https.maximumPendingPerIP, total: configuration.https.maximumPending)),
            gate: defender)
        let webSocketProtocols =
            [
                HTTPSChannel.WebSocketProtocol(
                    paths: MQTTListener.webSocketPaths, subprotocols: ["mqtt"],
                    adopt: { webSocket.adoptWebSocket($0, presented: $1) })
            ]
            + [amqpListener].compactMap { $0 }.map { amqp in
                HTTPSChannel.WebSocketProtocol(
                    paths: AMQPListener.webSocketPaths, subprotocols: AMQPListener.webSocketProtocols,
                    adopt: { channel, presented in
                        channel.eventLoop.makeCompletedFuture { try amqp.adoptWebSocket(channel, presented: presented) }
                    })
            }
        let application = Application(
            router: httpsRouter,
            server: HTTPServerBuilder { responder in
                // total: a configured number of seconds, range-checked when read.
                HTTPSChannel(
                    tls: tlsSlot,
                    http: HTTP1Channel(
                        responder: responder,
                        configuration: .init(idleTimeout: .seconds(Int64(configuration.https.idleTimeout)))),
                    webSocketProtocols: webSocketProtocols,
                    // One limit for both protocols' frames (NIO has one WebSocket upgrader), plus the frame header.
                    maximumFrameSize: max(configuration.mqtt.maximumPacketSize, amqpListener?.maximumFrameSize ?? 0)
                        + 14,
                    limits: firstRequestLimits)
            },
            configuration: .init(
                address: .hostname(configuration.https.address, port: configuration.https.port), serverName: "warden"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.https.port
                let host =
                    ["127.0.0.1", "::1", "localhost"].contains(configuration.https.address)
                    ? "localhost" : configuration.hubHostName.rawValue
                let url = "https://\(host):\(port)"
                if configuration.pki.baseURL == nil, !configuration.pki.http.enabled {
                    certificates.serve(at: "https://\(configuration.hubHostName):\(port)")
                }
                try? directory.write(Data("{\"url\":\"\(url)\"}\n".utf8), to: directory.endpoint, mode: 0o644)
                logger.info("Listening.", metadata: ["url": "\(url)", "listener": "https"])
                onReady(
                    StartupReport(
                        url: url, dataDirectory: directory.path, caCertificatePath: tls.caCertificatePath,
                        newAdminCredential: credential.created, adminCredentialPath: directory.adminCredential,
                        adminPasswordPath: directory.adminPassword,
                        hubHostName: configuration.hubHostName.rawValue, mqttURLs: reportedMQTTURLs,
                        amqpURL: reportedAMQPURL))
            },
            logger: logger)
        let revocationListener =
            configuration.pki.http.enabled
            ? makeRevocationListener(configuration, router: router, certificates: certificates, logger: logger) : nil
        // Shut down in reverse: listeners first, the state writer last, so that it commits what they left.
        var services: [any Service] = [
            audit, persistence, access, application, reloader, systemTopics, retention, auditRetention,
            telemetryFeed, cloudToDevice, certificates, defender,
            EventLoopLagMonitor(group: MultiThreadedEventLoopGroup.singleton),
        ]
        if let alertWebhook { services.append(alertWebhook) }
        if let cluster { services.append(cluster) }
        if let slotLease { services.append(slotLease) }
        services += mqttListeners.map { $0.listener } as [any Service]
        if let amqpListener { services.append(amqpListener) }
        if let revocationListener { services.append(revocationListener) }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as IOError {
            let address = "\(configuration.https.address):\(configuration.https.port)"
            throw WardenError(
                .listenerUnavailable,
                "Cannot listen on \(address): \(error.description). Is another server running there?")
        }
        logger.info("Stopped.")
    }

    /// Every tenant's id, page by page.
    static func allTenantIDs(_ registry: RegistryService) async throws -> [TenantID] {
        var ids: [TenantID] = []
        var cursor: String?
        repeat {
            let page = try await registry.tenants(after: cursor, limit: 1000)
            ids += page.items.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil
        return ids
    }

    /// What the certificate service is told: the configured base URL, or the one the listeners imply until
    /// they bind (`serve(at:)` then names the bound port).
    /// The Defender's platform rules: `defender.*`; tenants change the device rules in their own documents.
    static func defenderSettings(_ configuration: ServerConfiguration) -> DefenderService.Settings {
        let defender = configuration.defender
        var settings = DefenderService.Settings()
        settings.authFailureThreshold = defender.authFailureThreshold
        settings.authFailureWindow = TimeInterval(defender.authFailureWindow)
        settings.authFailureBan = defender.authFailureBan == 0 ? nil : TimeInterval(defender.authFailureBan)
        settings.floodThreshold = defender.floodThreshold
        settings.floodWindow = TimeInterval(defender.floodWindow)
        settings.floodBan = defender.floodBan == 0 ? nil : TimeInterval(defender.floodBan)
        settings.deviceRules.flapping.threshold = defender.flappingThreshold
        settings.deviceRules.flapping.window = defender.flappingWindow
        if defender.flappingBan > 0 { settings.deviceRules.flapping.response = .ban(seconds: defender.flappingBan) }
        settings.sampleInterval = Double(defender.sampleInterval)
        settings.auditInterval = defender.auditInterval == 0 ? nil : TimeInterval(defender.auditInterval * 3_600)
        settings.webhookConfigured = defender.webhookURL != nil
        return settings
    }

    static func pkiSettings(_ configuration: ServerConfiguration) -> CertificateService.Settings {
        let pki = configuration.pki
        let host = configuration.hubHostName.rawValue
        var settings = CertificateService.Settings(
            baseURL: pki.baseURL
                ?? (pki.http.enabled
                    ? "http://\(host):\(pki.http.port)" : "https://\(host):\(configuration.https.port)"))
        settings.crlValidity = TimeInterval(pki.crlValidity)
        settings.ocspValidity = TimeInterval(pki.ocspValidity)
        settings.defaultDays = pki.defaultDays
        settings.maximumDays = pki.maximumDays
        return settings
    }

    /// The plain-HTTP listener that serves only CRLs and OCSP answers (`pki.http.*`).
    static func makeRevocationListener(
        _ configuration: ServerConfiguration, router: APIRouter, certificates: CertificateService, logger: Logger
    ) -> some Service {
        let http = configuration.pki.http
        return Application(
            router: router.makeRevocationRouter(),
            configuration: .init(address: .hostname(http.address, port: http.port), serverName: "warden"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? http.port
                if configuration.pki.baseURL == nil {
                    certificates.serve(at: "http://\(configuration.hubHostName):\(port)")
                }
                logger.info(
                    "Listening.", metadata: ["url": "http://\(http.address):\(port)/pki/", "listener": "pki-http"])
            },
            logger: logger)
    }

    /// The data key whose sealed value proves that a node's master key is the one a shared store was sealed under.
    static let masterKeyCheck = "master-key.check"

    /// The store `store.backend` names, and the SQLite one again when it is that (its backups copy the file).
    static func openStore(
        _ settings: ServerConfiguration.Store, _ directory: DataDirectory, _ sealer: any SecretSealer,
        _ clock: any WardenClock, _ logger: Logger
    ) async throws -> (any HubStore, SQLiteDatabase?) {
        switch settings.backend {
        case .sqlite:
            let database = try SQLiteDatabase(path: directory.database, sealer: sealer, clock: clock)
            if !SQLiteDatabase.statementJournalsInMemory {
                logger.warning(
                    "SQLite keeps statement journals in 64 KiB chunks: durable sessions will be slower (it was opened before the store)."
                )
            }
            return (database, database)
        case .postgresql:
            let postgres = try settings.postgreSQLSettings()
            if postgres.tls == .disable {
                logger.warning(
                    "The PostgreSQL store is reached without TLS (sslmode=disable): keep it to a database on this machine."
                )
            }
            let database = try await PostgreSQLDatabase(postgres, sealer: sealer, clock: clock, logger: logger)
            // Nodes share what is sealed: the first to start stores a check value, and a node whose master key
            // does not open it stops here, before it seals anything the others could not open.
            do {
                _ = try await database.dataKey(masterKeyCheck, orStore: .random(count: 32))
            } catch let error as WardenError where error.code == .sealingFailed {
                await database.close()
                throw WardenError(
                    .masterKeyInvalid,
                    "This node's master key does not open what the PostgreSQL store holds: every node that shares it "
                        + "needs the same master key (WARDEN_MASTER_KEY, or the same master.key).")
            }
            logger.info(
                "Opened the PostgreSQL store.",
                metadata: ["store.host": "\(postgres.host)", "store.database": "\(postgres.database)"])
            return (database, nil)
        }
    }

    /// This node's NATS connection to the others, when `cluster.nats-urls` names servers.
    static func makeClusterNode(
        _ configuration: ServerConfiguration, id: UUID, broker: Broker, bus: EventBus, database: any HubStore,
        logger: Logger, resynchronize: @escaping @Sendable () async throws -> Void
    ) -> ClusterNode? {
        let cluster = configuration.cluster
        guard cluster.isEnabled else { return nil }
        var settings = ClusterNode.Configuration(
            servers: cluster.natsServers.map { .init(host: $0.host, port: $0.port) },
            name: cluster.node)
        settings.user = cluster.natsUser
        settings.password = cluster.natsPassword.map { String(decoding: $0.bytes, as: UTF8.self) }
        settings.outboundLimit = cluster.outboundLimit
        if cluster.natsTLS {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.minimumTLSVersion = .tlsv12
            if let file = cluster.natsCAFile {
                tls.trustRoots = .file(file)
            }
            settings.tls = tls
        }
        let node = ClusterNode(
            id: id, configuration: settings, broker: broker, bus: bus, store: database,
            // The hub stamps user properties on what it routes: room above the largest packet a client may send.
            maximumPacketSize: configuration.mqtt.maximumPacketSize + 64 * 1024,
            group: MultiThreadedEventLoopGroup.singleton, logger: logger, resynchronize: resynchronize)
        logger.info(
            "Joining the cluster.",
            metadata: ["node": "\(node.id)", "nats": "\(cluster.natsServers.map { "\($0.host):\($0.port)" })"])
        return node
    }

    /// The MQTT/TLS listener and, when configured, the plain one; the broker behind them follows the bus
    /// for live revocation.
    static func makeMQTTListeners(
        _ configuration: ServerConfiguration, tls: TLSContextSlot, directory: DeviceDirectory,
        authorizer: PolicyAuthorizer, bus: EventBus, persistence: BrokerPersistence, database: any HubStore,
        ocsp: OCSPStatusCache, gate: any ConnectionGate, observer: any ConnectionObserver,
        limiter: ConnectRateLimiter, pending: PendingConnections, clock: any WardenClock, logger: Logger
    ) async throws -> (Broker, [(scheme: String, listener: MQTTListener)], webSocket: MQTTListener) {
        let mqtt = configuration.mqtt
        let broker = Broker(
            configuration: mqtt.broker, timers: MultiThreadedEventLoopGroup.singleton.next(), persistence: persistence,
            receiveCheck: ReceiveCheck(authorizer: authorizer, events: bus, clock: clock))
        broker.restore(try await database.loadMQTTState())
        let authenticator = DeviceAuthenticator(directory: directory, ocsp: ocsp, gate: gate)
        LiveRevocation(broker: broker, authenticator: authenticator).follow(bus)
        let reevaluation = PolicyReevaluation(broker: broker, authorizer: authorizer, events: bus, clock: clock)
        reevaluation.follow(bus, facts: directory)
        // Runs for the life of the process, like the broker it watches.
        _ = reevaluation.watchTime(on: MultiThreadedEventLoopGroup.singleton.next(), facts: directory)
        func settings(_ name: String, _ address: String, _ port: Int) -> MQTTListener.Configuration {
            var settings = MQTTListener.Configuration(name: name, host: address, port: port)
            settings.decodingLimits.maximumPacketSize = mqtt.maximumPacketSize
            settings.decodingLimits.maximumTopicLevels = mqtt.maximumTopicLevels
            // total: a configured number of seconds, range-checked when read.
            settings.connectTimeout = .seconds(Int64(mqtt.connectTimeout))
            settings.receiveMaximum = mqtt.receiveMaximum
            settings.topicAliasMaximum = mqtt.topicAliasMaximum
            settings.maximumKeepAlive = mqtt.maximumKeepAlive
            settings.azureMaximumKeepAlive = mqtt.azureMaximumKeepAlive
            settings.closeOnDeniedPublish = mqtt.closeOnDeniedPublish
            return settings
        }
        func listener(_ settings: MQTTListener.Configuration, tls: TLSContextSlot?) -> MQTTListener {
            MQTTListener(
                settings, tls: tls, broker: broker, authenticator: authenticator,
                authorizer: authorizer,
                limiter: limiter, pending: pending, events: bus, gate: gate, observer: observer, clock: clock,
                logger: logger)
        }
        var listeners = [("mqtts", listener(settings("mqtts", mqtt.address, mqtt.port), tls: tls))]
        if mqtt.plain.enabled {
            var plain = settings("mqtt", mqtt.plain.address, mqtt.plain.port)
            plain.anonymous = mqtt.plain.anonymous
            listeners.append(("mqtt", listener(plain, tls: nil)))
        }
        // MQTT over WebSocket arrives through the HTTPS listener, already past TLS; it never binds a socket.
        let webSocket = listener(settings("wss", configuration.https.address, configuration.https.port), tls: nil)
        return (broker, listeners, webSocket)
    }

    /// The AMQPS device endpoint, on the MQTT listener's TLS context and per-address budgets.
    static func makeAMQPListener(
        _ configuration: ServerConfiguration, tls: TLSContextSlot, hub: HubServices,
        limiter: ConnectRateLimiter, pending: PendingConnections, gate: any ConnectionGate, events: EventBus,
        clock: any WardenClock, logger: Logger
    ) -> AMQPListener {
        let amqp = configuration.amqp
        var settings = AMQPEndpointSettings()
        settings.maximumMessageSize = amqp.maximumMessageSize
        settings.maximumDevicesPerConnection = amqp.maximumDevicesPerConnection
        settings.maximumConnections = amqp.maximumConnections
        // total: configured numbers, range-checked when read (1–10,000; seconds up to an hour).
        settings.linkCredit = UInt32(amqp.linkCredit)
        // total: as above.
        settings.authenticationTimeout = .seconds(Int64(amqp.authenticationTimeout))
        // total: as above.
        settings.idleTimeout = .seconds(Int64(amqp.idleTimeout))
        return AMQPListener(
            host: amqp.address, port: amqp.port, settings: settings, tls: tls, hub: hub, limiter: limiter,
            pending: pending, gate: gate, events: events, clock: clock, logger: logger)
    }

    /// A listener's TLS context. A client certificate is requested but optional on every listener (devices
    /// with X.509 credentials present one, over MQTT, AMQP or the HTTPS device API; others need not); each
    /// connection accepts any chain at the TLS layer and authentication decides.
    static func makeTLSContext(
        _ material: TLSMaterial, minimum: ServerConfiguration.TLSMinimumVersion
    ) throws -> TLSServerContext {
        var tlsConfiguration = try makeTLSConfiguration(material, minimum: minimum)
        tlsConfiguration.certificateVerification = .optionalVerification
        return try TLSServerContext(configuration: tlsConfiguration)
    }

    /// The TLS 1.2 suites offered: ECDHE with an AEAD only (TLS 1.3's are all AEADs).
    static let cipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    /// TLS 1.2 minimum (1.3 selectable), ECDHE with AEAD suites only.
    static func makeTLSConfiguration(_ material: TLSMaterial, minimum: ServerConfiguration.TLSMinimumVersion) throws
        -> TLSConfiguration
    {
        do {
            let chain = try NIOSSLCertificate.fromPEMBytes(Array(material.certificateChainPEM.utf8))
            let key = try NIOSSLPrivateKey(bytes: material.privateKeyPEM.bytes, format: .pem)
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            configuration.minimumTLSVersion = minimum == .tls13 ? .tlsv13 : .tlsv12
            configuration.cipherSuiteValues = cipherSuites
            return configuration
        } catch {
            throw WardenError(.configInvalidValue, "The TLS certificate or key cannot be loaded: \(error).")
        }
    }
}
