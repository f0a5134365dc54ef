public import Foundation
public import Hummingbird
public import WardenAPI
public import WardenAccess
public import WardenAudit
public import WardenCore
public import WardenDefender
public import WardenHub
public import WardenPKI
public import WardenPolicy
public import WardenProvisioning
public import WardenRegistry

/// The web portal on the HTTPS port: server-rendered pages over the same services as the API, with a
/// cookie session, CSRF tokens on every form and a strict Content-Security-Policy.
public struct Portal: Sendable {
    /// What the portal uses.
    public struct Dependencies: Sendable {
        public let registry: RegistryService
        public let certificates: CertificateService
        public let provisioning: ProvisioningService
        /// The Defender's alerts, for the overview.
        public let defender: DefenderService
        public let hub: HubServices
        public let access: AccessService
        public let auditReader: AuditReader
        public let clock: any WardenClock
        public let gatewayHostName: String
        public let refreshLifetime: TimeInterval
        /// The tenants' policies in force and the devices' facts, for the policy page.
        public let policyFacts: any PolicyFacts

        public init(
            registry: RegistryService, certificates: CertificateService, provisioning: ProvisioningService,
            defender: DefenderService, hub: HubServices, access: AccessService,
            auditReader: AuditReader,
            clock: any WardenClock, gatewayHostName: String, refreshLifetime: TimeInterval,
            policyFacts: any PolicyFacts
        ) {
            self.policyFacts = policyFacts
            self.registry = registry
            self.certificates = certificates
            self.provisioning = provisioning
            self.defender = defender
            self.hub = hub
            self.access = access
            self.auditReader = auditReader
            self.clock = clock
            self.gatewayHostName = gatewayHostName
            self.refreshLifetime = refreshLifetime
        }
    }

    /// Exact paths the portal owns (bearer authentication leaves them to the portal's session).
    public static let paths: Set<String> = ["/", "/signin", "/signout", "/account", "/tenants", "/users", "/audit"]
    /// Path prefixes the portal owns.
    public static let prefixes = ["/t/", "/static/", "/account/", "/users/", "/alerts/"]

    let dependencies: Dependencies
    let renderer: PortalRenderer
    /// Every page and form action.
    public let routes: [PortalRoute]

    public init(_ dependencies: Dependencies) {
        self.dependencies = dependencies
        let renderer = PortalRenderer()
        self.renderer = renderer
        let pages = Pages(dependencies: dependencies, renderer: renderer)
        routes =
            pages.signInRoutes + pages.overviewRoutes + pages.deviceRoutes + pages.peopleRoutes
            + pages.auditRoutes + pages.policyRoutes + pages.certificateRoutes + pages.provisioningRoutes
            + pages.inventoryRoutes + pages.securityRoutes + pages.accountRoutes
            + Self.staticRoutes
    }

    /// Whether every template parsed (a test checks it).
    public var templatesParse: Bool { renderer.isComplete }

    /// Adds the portal's routes to the API's router (after its middleware, so that metrics, audit and
    /// problem handling apply to them too).
    public func register(on router: Router<APIRequestContext>) {
        for route in routes {
            let route = route
            router.on(RouterPath(route.path), method: route.method) { request, context in
                await handle(request, context, route)
            }
        }
    }

    private func handle(_ request: Request, _ context: APIRequestContext, _ route: PortalRoute) async -> Response {
        let access = dependencies.access
        var session =
            route.permission == nil && route.path.hasPrefix("/static/")
            ? PortalSession(principal: nil, csrf: "")
            : await PortalSession.resolve(request, access: access, refreshLifetime: dependencies.refreshLifetime)
        var response: Response
        do {
            response = try await guarded(request, context, route, &session)
        } catch let error as WardenError {
            response = errorPage(error, context, session)
        } catch {
            response = errorPage(
                WardenError(.internalError, "Something went wrong on our side."), context, session)
        }
        response.apply(session.cookies)
        return response
    }

    private func guarded(
        _ request: Request, _ context: APIRequestContext, _ route: PortalRoute, _ session: inout PortalSession
    ) async throws -> Response {
        let tenant = context.parameters.get("tenant").flatMap { try? TenantID(PercentEncoding.decodePathSegment($0)) }
        if let permission = route.permission {
            guard let principal = session.principal else {
                let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
                return .redirect(
                    "/signin?next=" + (next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/"))
            }
            context.audit.set {
                $0.principal = principal
                $0.action = "portal." + route.name
            }
            switch principal.refusal(of: permission, in: tenant) {
            case .unknownTenant?:
                throw WardenError(.tenantNotFound, "There is no tenant '\(tenant.map { "\($0)" } ?? "")'.")
            case .passwordChangeRequired?:
                return .redirect("/account")
            case .notPermitted?:
                throw WardenError(.authForbidden, "Your role does not allow this ('\(permission.rawValue)').")
            case nil:
                break
            }
        } else {
            context.audit.set { $0.action = "portal." + route.name }
        }
        var form: [String: String] = [:]
        if route.method == .post {
            form = try await FormBody.fields(request, limit: route.formLimit) ?? [:]
            guard session.acceptsCSRF(form["_csrf"]) else {
                throw WardenError(
                    .authCSRFRejected, "The form is stale or did not come from this site; reload the page.")
            }
        }
        return try await route.handler(
            request, PortalRequest(context: context, session: session, form: form, tenant: tenant, route: route))
    }

    private func errorPage(_ error: WardenError, _ context: APIRequestContext, _ session: PortalSession) -> Response {
        let reference = UUID().uuidString.lowercased().prefix(12)
        context.audit.set {
            $0.code = error.code.name
            $0.referenceID = String(reference)
        }
        let status = Problem.status(for: error.code.kind)
        let isInternal = error.code.kind == .internal || error.code.kind == .unavailable
        let page = MessagePage(
            heading: status == .notFound ? "Not found" : (status == .forbidden ? "Not allowed" : "That did not work"),
            text: isInternal ? "Something went wrong on our side." : error.reason, reference: String(reference))
        return renderer.render(
            "message", page, title: page.heading, frame: Pages.frame(session, path: ""),
            status: status)
    }

    static let staticRoutes = [
        PortalRoute(.get, "/static/portal.css", "stylesheet", permission: nil) { _, _ in
            PortalRenderer.response(Assets.css, contentType: "text/css; charset=utf-8")
        },
        PortalRoute(.get, "/static/portal.js", "script", permission: nil) { _, _ in
            PortalRenderer.response(Assets.javaScript, contentType: "text/javascript; charset=utf-8")
        },
    ]
}

struct MessagePage {
    let heading: String
    let text: String
    let reference: String?
}
