import Foundation
public import Hummingbird
import WardenAPI
public import WardenCore

/// One page or form action of the portal and the permission it requires, declared as a value like the API's
/// routes so that a test can enumerate them.
public struct PortalRoute: Sendable {
    public let method: HTTPRequest.Method
    /// The path template, with `{name}` parameters.
    public let path: String
    /// The audit action of a form post (`portal.createDevice`).
    public let name: String
    /// Nil only for the sign-in page and the static files.
    public let permission: Permission?
    /// The largest form body a post accepts.
    let formLimit: Int
    let handler: @Sendable (Request, PortalRequest) async throws -> Response

    init(
        _ method: HTTPRequest.Method, _ path: String, _ name: String, permission: Permission?,
        formLimit: Int = APIRequestContext.maximumBodyBytes,
        handler: @escaping @Sendable (Request, PortalRequest) async throws -> Response
    ) {
        self.method = method
        self.path = path
        self.name = name
        self.permission = permission
        self.formLimit = formLimit
        self.handler = handler
    }
}

/// What a portal handler gets: the session, the form (already CSRF-checked), the tenant of the path.
struct PortalRequest: Sendable {
    let context: APIRequestContext
    var session: PortalSession
    let form: [String: String]
    let tenant: TenantID?
    let route: PortalRoute

    var principal: Principal {
        // Guarded routes run only with a principal; public ones never read this.
        session.principal ?? Principal(kind: .user, id: "", name: "")
    }

    func parameter(_ name: String) -> String {
        PercentEncoding.decodeText(context.parameters.get(name) ?? "") ?? ""
    }

    func field(_ name: String) -> String {
        (form[name] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
