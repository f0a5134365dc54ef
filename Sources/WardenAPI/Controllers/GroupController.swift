import Hummingbird
import WardenCore
import WardenRegistry

/// `/api/v1/tenants/{tenant}/groups`.
struct GroupController {
    let registry: RegistryService
    static let base = "/api/v1/tenants/{tenant}/groups"

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, Self.base, "listGroups", "List device groups", permission: .registryRead,
                success: (200, "GroupList")
            ) { request, context in
                let (cursor, limit) = try request.pagination
                let page = try await registry.groups(try request.tenantID(context), after: cursor, limit: limit)
                return try JSONResponse.make(
                    ListResource(
                        items: page.items.map(GroupResource.init), nextCursor: PageCursor.encode(page.nextCursor)))
            },
            APIRoute(
                .post, Self.base, "createGroup", "Create a device group", permission: .registryWrite,
                request: "CreateGroup", success: (201, "Group")
            ) { request, context in
                let body = try await request.decodeJSON(CreateGroupRequest.self, context)
                let group = try await registry.createGroup(
                    try request.tenantID(context), body.name, description: body.description ?? "",
                    members: Set(body.members ?? []))
                return try JSONResponse.make(GroupResource(group), status: .created)
            },
            APIRoute(
                .get, Self.base + "/{group}", "getGroup", "Show a group and its members", permission: .registryRead,
                success: (200, "Group")
            ) { request, context in
                let group = try await registry.group(try request.tenantID(context), try groupName(request, context))
                return try JSONResponse.make(GroupResource(group))
            },
            APIRoute(
                .delete, Self.base + "/{group}", "deleteGroup", "Delete a group (its devices stay)",
                permission: .registryWrite, success: (204, nil)
            ) { request, context in
                try await registry.deleteGroup(try request.tenantID(context), try groupName(request, context))
                return JSONResponse.noContent()
            },
            membership(.put, "addGroupMember", "Add a device to a group", isMember: true),
            membership(.delete, "removeGroupMember", "Remove a device from a group", isMember: false),
        ]
    }

    private func membership(_ method: HTTPRequest.Method, _ id: String, _ summary: String, isMember: Bool) -> APIRoute {
        APIRoute(
            method, Self.base + "/{group}/members/{device}", id, summary, permission: .registryWrite,
            success: (200, "Group")
        ) {
            request, context in
            let group = try await registry.setMembership(
                try request.tenantID(context), try groupName(request, context), try request.deviceID(context),
                isMember: isMember)
            return try JSONResponse.make(GroupResource(group))
        }
    }

    private func groupName(_ request: Request, _ context: APIRequestContext) throws -> GroupName {
        try GroupName(try request.parameter("group", context))
    }
}
