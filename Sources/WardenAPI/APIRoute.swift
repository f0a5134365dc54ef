public import Hummingbird
public import WardenCore

/// One route of the management API: what the OpenAPI document says about it and what it requires.
///
/// Routes are declared as values so that the router, the permission guard and the OpenAPI document are
/// built from one list and cannot drift apart.
public struct APIRoute: Sendable {
    /// Whether a device is a member of a group (the registry's in-memory directory answers).
    public typealias DeviceGroupLookup = @Sendable (TenantID, DeviceID, GroupName) -> Bool

    /// The route's method.
    public let method: HTTPRequest.Method
    /// The path template, with `{name}` parameters, as in OpenAPI.
    public let path: String
    /// The OpenAPI operation id.
    public let operationID: String
    /// A one-line summary.
    public let summary: String
    /// What the caller must hold; nil only for public routes.
    public let permission: Permission?
    /// The OpenAPI schema of the request body, if any.
    public let requestSchema: String?
    /// The success status and the schema of its body (nil: no body).
    public let success: (status: Int, schema: String?)
    /// The query parameters it reads besides `limit` and `cursor`.
    let query: [QueryParameter]
    let handler: @Sendable (Request, APIRequestContext) async throws -> Response

    init(
        _ method: HTTPRequest.Method, _ path: String, _ operationID: String, _ summary: String,
        permission: Permission?, request: String? = nil, success: (Int, String?), query: [QueryParameter] = [],
        handler: @escaping @Sendable (Request, APIRequestContext) async throws -> Response
    ) {
        self.method = method
        self.path = path
        self.operationID = operationID
        self.summary = summary
        self.permission = permission
        self.requestSchema = request
        self.success = success
        self.query = query
        self.handler = handler
    }

    /// Adds the route to `router`, guarded by its permission for the `{tenant}` in its path.
    ///
    /// A tenant the principal holds no role in answers `tenant.not_found` (404) exactly as one that does not
    /// exist, so nobody learns another tenant's resources exist; a role without the permission answers 403.
    func register(on router: Router<APIRequestContext>, deviceGroups: @escaping DeviceGroupLookup) {
        let permission = self.permission
        let handler = self.handler
        let namesDevice = path.contains("{device}")
        router.on(RouterPath(path), method: method) { request, context in
            if let permission {
                guard let principal = context.principal else {
                    throw WardenError(.authMissingCredential, "Send 'Authorization: Bearer <token>'.")
                }
                let tenant = context.parameters.get("tenant").flatMap { try? TenantID(Self.decoded($0)) }
                switch principal.refusal(of: permission, in: tenant) {
                case .unknownTenant?:
                    throw WardenError(.tenantNotFound, "There is no tenant '\(tenant.map { "\($0)" } ?? "")'.")
                case .passwordChangeRequired?:
                    throw WardenError(
                        .authPasswordChangeRequired, "Choose a new password first: POST /api/v1/auth/password.")
                case .notPermitted?:
                    throw WardenError(.authForbidden, "This needs the '\(permission.rawValue)' permission.")
                case nil:
                    break
                }
                if let group = principal.keyScope?.deviceGroup {
                    // A group-scoped key reaches only routes that name one of the group's devices.
                    guard namesDevice, let tenant,
                        let device = context.parameters.get("device").flatMap({ try? DeviceID(Self.decoded($0)) }),
                        deviceGroups(tenant, device, group)
                    else {
                        throw WardenError(.authForbidden, "This key reaches only devices in group '\(group)'.")
                    }
                }
            }
            return try await handler(request, context)
        }
    }

    static func decoded(_ parameter: String) -> String {
        PercentEncoding.decodePathSegment(parameter)
    }
}
