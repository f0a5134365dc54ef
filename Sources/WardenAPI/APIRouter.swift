import Foundation
public import Hummingbird
public import Logging
public import WardenAccess
public import WardenAudit
public import WardenCore
public import WardenDefender
public import WardenHub
public import WardenPKI
public import WardenPolicy
public import WardenProvisioning
public import WardenRegistry

/// Builds the HTTPS router: middleware, every controller's routes and the OpenAPI document.
public struct APIRouter: Sendable {
    /// What the router needs from the rest of the server.
    public struct Dependencies: Sendable {
        public let registry: RegistryService
        public let certificates: CertificateService
        public let provisioning: ProvisioningService
        /// The tenants' policies in force and the devices' facts, for simulation.
        public let policyFacts: any PolicyFacts
        public let hub: HubServices
        public let clock: any WardenClock
        public let access: AccessService
        public let audit: AuditLog
        public let auditReader: AuditReader
        public let masterKey: any MasterKeyManaging
        /// Makes backups (nil: this server makes none).
        public let backup: (any BackupMaking)?
        public let defender: DefenderService
        /// Where alerts are delivered, when a webhook is configured.
        public let alertWebhook: AlertWebhook?
        public let deviceGroups: APIRoute.DeviceGroupLookup
        public let gatewayHostName: String
        public let isReady: @Sendable () async -> Bool
        /// Whether the stores' writers can write now (changes are refused with 503 while not).
        public let canWrite: @Sendable () -> Bool
        public let metricsText: @Sendable () -> String
        public let version: String
        public let logger: Logger

        /// Collects the dependencies.
        public init(
            registry: RegistryService, certificates: CertificateService, provisioning: ProvisioningService,
            policyFacts: any PolicyFacts, hub: HubServices,
            clock: any WardenClock,
            access: AccessService, audit: AuditLog,
            auditReader: AuditReader, masterKey: any MasterKeyManaging, backup: (any BackupMaking)? = nil,
            defender: DefenderService, alertWebhook: AlertWebhook? = nil,
            deviceGroups: @escaping APIRoute.DeviceGroupLookup, gatewayHostName: String,
            isReady: @escaping @Sendable () async -> Bool, canWrite: @escaping @Sendable () -> Bool = { true },
            metricsText: @escaping @Sendable () -> String, version: String, logger: Logger
        ) {
            self.registry = registry
            self.certificates = certificates
            self.provisioning = provisioning
            self.policyFacts = policyFacts
            self.hub = hub
            self.clock = clock
            self.access = access
            self.audit = audit
            self.auditReader = auditReader
            self.masterKey = masterKey
            self.backup = backup
            self.defender = defender
            self.alertWebhook = alertWebhook
            self.deviceGroups = deviceGroups
            self.gatewayHostName = gatewayHostName
            self.isReady = isReady
            self.canWrite = canWrite
            self.metricsText = metricsText
            self.version = version
            self.logger = logger
        }
    }

    /// The path of the OpenAPI document.
    public static let openAPIPath = "/api/v1/openapi.json"

    /// Every route, in registration order (the OpenAPI document route included).
    public let routes: [APIRoute]
    private let dependencies: Dependencies

    /// Assembles the routes.
    public init(_ dependencies: Dependencies) {
        self.dependencies = dependencies
        let registry = dependencies.registry
        var routes =
            HealthController(isReady: dependencies.isReady, metricsText: dependencies.metricsText).routes
            + TenantController(registry: registry).routes
            + DeviceController(registry: registry, presence: dependencies.hub.presence).routes
            + CredentialController(registry: registry, gatewayHostName: dependencies.gatewayHostName).routes
            + GroupController(registry: registry).routes
            + AdmissionController(registry: registry).routes
            + PolicyController(registry: registry).routes
            + AuthorizationPolicyController(
                registry: registry, facts: dependencies.policyFacts, twins: dependencies.hub.twins,
                auditReader: dependencies.auditReader,
                clock: dependencies.clock
            ).routes
            + CertificateAuthorityController(
                registry: registry, certificates: dependencies.certificates, clock: dependencies.clock
            ).routes
            + CertificateController(certificates: dependencies.certificates, clock: dependencies.clock).routes
            + PKIController(certificates: dependencies.certificates).routes
            + ProvisioningController(provisioning: dependencies.provisioning, endpoint: dependencies.gatewayHostName)
            .routes
            + TelemetryController(registry: registry, reader: dependencies.hub.telemetry, clock: dependencies.clock)
            .routes
            + CloudToDeviceController(registry: registry, service: dependencies.hub.cloudToDevice).routes
            + TwinController(registry: registry, twins: dependencies.hub.twins).routes
            + MethodController(registry: registry, methods: dependencies.hub.methods).routes
            + DeviceHTTPSController(gateway: dependencies.hub.devices).routes
            + ProvisioningHTTPSController(provisioning: dependencies.provisioning, devices: dependencies.hub.devices)
            .routes
            + AuthController(access: dependencies.access).routes
            + OAuthController(access: dependencies.access).routes
            + UserController(access: dependencies.access).routes
            + APIKeyController(access: dependencies.access, registry: registry).routes
            + AuditController(reader: dependencies.auditReader, clock: dependencies.clock).routes
            + MasterKeyController(masterKey: dependencies.masterKey, backup: dependencies.backup).routes
            + DefenderController(
                defender: dependencies.defender, webhook: dependencies.alertWebhook, registry: registry
            ).routes
        let documentRoute = APIRoute(
            .get, Self.openAPIPath, "openAPI", "This document", permission: nil, success: (200, nil)
        ) { _, _ in Response(status: .ok) }
        let document = OpenAPIDocument.make(routes: routes + [documentRoute], version: dependencies.version)
        routes.append(
            APIRoute(.get, Self.openAPIPath, "openAPI", "This document", permission: nil, success: (200, nil)) { _, _ in
                try JSONResponse.make(document)
            })
        self.routes = routes
    }

    /// A router with nothing but the PKI's public routes (CRLs, OCSP), for the plain-HTTP listener: no
    /// credentials, no portal, no API.
    public func makeRevocationRouter() -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: RequestMetricsMiddleware())
        router.add(middleware: ProblemMiddleware(logger: dependencies.logger))
        for route in PKIController(certificates: dependencies.certificates).routes {
            route.register(on: router, deviceGroups: dependencies.deviceGroups)
        }
        return router
    }

    /// The Hummingbird router. Paths under `portalPrefixes` and the exact `portalPaths` are left to the
    /// portal, which authenticates by its session cookie and registers its routes on this router afterwards.
    public func makeRouter(portalPaths: Set<String> = [], portalPrefixes: [String] = []) -> Router<APIRequestContext> {
        // HEAD wherever GET is (RFC 9110 §9.3.2): the GET route runs and its body is dropped.
        let router = Router(context: APIRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: TransportSecurityMiddleware())
        router.add(middleware: RequestMetricsMiddleware())
        router.add(middleware: AuditMiddleware(log: dependencies.audit, clock: dependencies.clock, routes: routes))
        router.add(middleware: ProblemMiddleware(logger: dependencies.logger))
        router.add(middleware: StoreAvailabilityMiddleware(canWrite: dependencies.canWrite))
        let publicRoutes = routes.filter { $0.permission == nil }
        router.add(
            middleware: BearerAuthMiddleware(
                authenticator: dependencies.access,
                publicPaths: Set(publicRoutes.map(\.path).filter { !$0.contains("{") }).union(portalPaths),
                // A public template is public below its first parameter (`/devices/{device}/…` → `/devices/`),
                // unless that is its first segment: then only its own shape is.
                publicPrefixes: Array(
                    Set(
                        publicRoutes.compactMap { route in
                            route.path.firstIndex(of: "{").map { String(route.path[..<$0]) }
                        }
                    ).subtracting(["/"])) + portalPrefixes,
                publicTemplates: publicRoutes.map(\.path).filter { $0.hasPrefix("/{") }))
        for route in routes { route.register(on: router, deviceGroups: dependencies.deviceGroups) }
        return router
    }
}
