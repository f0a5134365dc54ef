import Foundation
import Hummingbird
import WardenAPI
import WardenAccess
import WardenCore
import WardenHub
import WardenRegistry
import WardenSecurity

/// The portal's pages, one extension per area; each returns its routes.
struct Pages: Sendable {
    let dependencies: Portal.Dependencies
    /// The portal's one renderer (its templates are parsed once, at start-up).
    let renderer: PortalRenderer

    /// The layout's frame for `session` on `path`: the navigation shows only what the principal may use.
    static func frame(_ session: PortalSession, path: String) -> PortalRenderer.Frame {
        guard let principal = session.principal else {
            return .init(signedIn: false, userName: "", csrf: session.csrf, nav: [])
        }
        let tenant = currentTenant(path: path, principal: principal)
        var items: [(String, String, Bool)] = [("Overview", "/", true)]
        if let tenant {
            let base = "/t/\(tenant.rawValue)"
            items += [
                ("Devices", base + "/devices", principal.may(.registryRead, in: tenant)),
                ("Roles", base + "/roles", principal.may(.usersManage, in: tenant)),
                ("API keys", base + "/api-keys", principal.may(.apiKeysManage, in: tenant)),
                ("Policy", base + "/policy", principal.may(.policiesRead, in: tenant)),
                ("Certificates", base + "/certificates", principal.may(.registryRead, in: tenant)),
                ("Provisioning", base + "/provisioning", principal.may(.registryRead, in: tenant)),
                ("Inventory", base + "/inventory", principal.may(.registryRead, in: tenant)),
                ("Security", base + "/security", principal.may(.policiesRead, in: tenant)),
                ("Audit", base + "/audit", principal.may(.auditRead, in: tenant)),
            ]
        }
        items += [
            ("Tenants", "/tenants", true), ("Users", "/users", !principal.roles.isEmpty || principal.isPlatformAdmin),
            ("Platform audit", "/audit", principal.isPlatformAdmin),
        ]
        let nav = items.filter { $0.2 && !principal.mustChangePassword }.map { label, href, _ in
            PortalRenderer.NavItem(
                label: label, href: href, current: href == path || (href != "/" && path.hasPrefix(href)))
        }
        return .init(signedIn: true, userName: principal.name, csrf: session.csrf, nav: nav)
    }

    /// The tenant a path names, else the principal's first.
    static func currentTenant(path: String, principal: Principal) -> TenantID? {
        if path.hasPrefix("/t/"), let segment = path.dropFirst(3).split(separator: "/").first,
            let tenant = try? TenantID(String(segment))
        {
            return tenant
        }
        return principal.roles.keys.sorted { $0.rawValue < $1.rawValue }.first
            ?? (principal.isPlatformAdmin ? .defaultTenant : nil)
    }

    /// Renders `template` for the request's session.
    func page(
        _ template: String, _ page: Any, title: String, _ request: Request, _ portal: PortalRequest,
        notice: String? = nil, status: HTTPResponse.Status = .ok
    ) -> Response {
        var frame = Self.frame(portal.session, path: request.uri.path)
        frame.notice = notice
        return renderer.render(template, page, title: title, frame: frame, status: status)
    }

    static func time(_ date: Date) -> String {
        UTCTimestamp.string(milliseconds: date.unixMilliseconds)
    }

    static func roles(_ roles: [TenantID: Role]) -> String {
        roles.isEmpty
            ? "-"
            : roles.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key)=\($0.value.rawValue)" }
                .joined(separator: ", ")
    }
}
