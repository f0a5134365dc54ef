import Hummingbird
import WardenCore
import WardenRegistry

/// A tenant's access list and IP filter, replaced as wholes (If-Match honoured).
struct AdmissionController {
    let registry: RegistryService
    static let base = "/api/v1/tenants/{tenant}"

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, Self.base + "/access-list", "getAccessList", "Show the allow and block lists",
                permission: .registryRead, success: (200, "AccessList")
            ) { request, context in
                let list = try await registry.accessList(try request.tenantID(context))
                return try JSONResponse.make(AccessListResource(list), etag: list.etag)
            },
            APIRoute(
                .put, Self.base + "/access-list", "replaceAccessList", "Replace the allow and block lists",
                permission: .registryWrite, request: "ReplaceAccessList", success: (200, "AccessList")
            ) { request, context in
                let body = try await request.decodeJSON(ReplaceAccessListRequest.self, context)
                let list = try await registry.replaceAccessList(
                    try request.tenantID(context), allow: body.allow?.domain ?? .init(),
                    block: body.block?.domain ?? .init(), ifMatch: request.ifMatch)
                return try JSONResponse.make(AccessListResource(list), etag: list.etag)
            },
            APIRoute(
                .get, Self.base + "/ip-filter", "getIPFilter", "Show the IP filter", permission: .registryRead,
                success: (200, "IPFilter")
            ) { request, context in
                let filter = try await registry.ipFilter(try request.tenantID(context))
                return try JSONResponse.make(IPFilterResource(filter), etag: filter.etag)
            },
            APIRoute(
                .put, Self.base + "/ip-filter", "replaceIPFilter",
                "Replace the IP filter (ordered rules, first match wins)", permission: .registryWrite,
                request: "ReplaceIPFilter", success: (200, "IPFilter")
            ) { request, context in
                let body = try await request.decodeJSON(ReplaceIPFilterRequest.self, context)
                let filter = try await registry.replaceIPFilter(
                    try request.tenantID(context), defaultAction: body.defaultAction, rules: body.rules,
                    ifMatch: request.ifMatch)
                return try JSONResponse.make(IPFilterResource(filter), etag: filter.etag)
            },
        ]
    }
}
