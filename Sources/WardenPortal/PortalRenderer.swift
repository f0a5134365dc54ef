import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// Renders pages: a page template inside the layout, with the portal's security headers.
struct PortalRenderer: Sendable {
    /// Scripts and styles only from this origin, no inline code, no framing, forms only to ourselves.
    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    private let library: MustacheLibrary

    init() {
        var templates: [String: MustacheTemplate] = [:]
        for (name, source) in Self.sources {
            // The templates are constants of this target; a parse failure is a bug a test catches at once.
            templates[name] = try? MustacheTemplate(string: source)
        }
        library = MustacheLibrary(templates: templates)
    }

    private static let sources = [
        "layout": LayoutTemplate.layout, "signin": LayoutTemplate.signIn, "message": LayoutTemplate.message,
        "overview": PageTemplates.overview, "devices": PageTemplates.devices, "device": PageTemplates.device,
        "tenants": PageTemplates.tenants, "users": PageTemplates.users, "roles": PageTemplates.roles,
        "apikeys": PageTemplates.apiKeys, "audit": PageTemplates.audit, "account": PageTemplates.account,
        "policy": PageTemplates.policy, "certificates": PageTemplates.certificates,
        "provisioning": PageTemplates.provisioning, "inventory": PageTemplates.inventory,
        "security": PageTemplates.security,
    ]

    /// Whether every template parsed.
    var isComplete: Bool {
        Self.sources.keys.allSatisfy { library.getTemplate(named: $0) != nil }
    }

    /// `template` rendered with `page` inside the layout.
    func render(
        _ template: String, _ page: Any, title: String, frame: Frame, status: HTTPResponse.Status = .ok
    ) -> Response {
        let content = library.render(page, withTemplate: template) ?? ""
        var frame = frame
        frame.title = title
        frame.content = content
        let html = library.render(frame, withTemplate: "layout") ?? ""
        return Self.response(html, status: status, contentType: "text/html; charset=utf-8")
    }

    /// A response with the portal's headers.
    static func response(_ text: String, status: HTTPResponse.Status = .ok, contentType: String) -> Response {
        var headers: HTTPFields = [
            .contentType: contentType, .cacheControl: "no-store", .contentSecurityPolicy: contentSecurityPolicy,
        ]
        if let name = HTTPField.Name("X-Content-Type-Options") { headers[name] = "nosniff" }
        if let name = HTTPField.Name("X-Frame-Options") { headers[name] = "DENY" }
        if let name = HTTPField.Name("Referrer-Policy") { headers[name] = "same-origin" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// What the layout shows around every page.
    struct Frame {
        var title = ""
        var content = ""
        var signedIn: Bool
        var userName: String
        var csrf: String
        var nav: [NavItem]
        var notice: String?
        var error: String?
    }

    struct NavItem {
        let label: String
        let href: String
        let current: Bool
    }
}
