import Hummingbird
import WardenCore
import WardenHub
import WardenRegistry

/// `/api/v1/tenants/{tenant}/devices`: the device registry, with each device's connection as every node knows it.
struct DeviceController {
    let registry: RegistryService
    let presence: DevicePresence
    static let base = "/api/v1/tenants/{tenant}/devices"

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, Self.base, "listDevices", "List a tenant's devices", permission: .registryRead,
                success: (200, "DeviceList")
            ) { request, context in
                let (cursor, limit) = try request.pagination
                let tenantID = try request.tenantID(context)
                let page = try await registry.devices(tenantID, after: cursor, limit: limit)
                let presence = await presence.presence(in: tenantID, of: page.items.map(\.id))
                return try JSONResponse.make(
                    ListResource(
                        items: page.items.map { DeviceResource($0, includeKeys: false, presence: presence) },
                        nextCursor: PageCursor.encode(page.nextCursor)))
            },
            APIRoute(
                .post, Self.base, "createDevice", "Register a device", permission: .registryWrite,
                request: "CreateDevice", success: (201, "Device")
            ) { request, context in
                let tenantID = try request.tenantID(context)
                let body = try await request.decodeJSON(CreateDeviceRequest.self, context)
                let device = try await registry.createDevice(
                    tenantID,
                    .init(
                        id: body.deviceID, authenticationType: body.authentication ?? .sas,
                        primaryThumbprint: body.primaryThumbprint, secondaryThumbprint: body.secondaryThumbprint,
                        status: body.status ?? .enabled, statusReason: body.statusReason,
                        attributes: body.attributes ?? [:]))
                return try JSONResponse.make(
                    DeviceResource(device, includeKeys: true), status: .created, etag: device.etag)
            },
            APIRoute(
                .get, Self.base + "/{device}", "getDevice", "Show a device (without keys)", permission: .registryRead,
                success: (200, "Device")
            ) { request, context in
                let tenantID = try request.tenantID(context)
                let device = try await registry.device(tenantID, try request.deviceID(context))
                let presence = await presence.presence(in: tenantID, of: [device.id])
                return try JSONResponse.make(
                    DeviceResource(device, includeKeys: false, presence: presence), etag: device.etag)
            },
            APIRoute(
                .patch, Self.base + "/{device}", "updateDevice",
                "Change status, reason, attributes or thumbprints (If-Match honoured)", permission: .registryWrite,
                request: "UpdateDevice", success: (200, "Device")
            ) { request, context in
                let body = try await request.decodeJSON(UpdateDeviceRequest.self, context)
                let device = try await registry.updateDevice(
                    try request.tenantID(context), try request.deviceID(context),
                    .init(
                        status: body.status, statusReason: body.statusReason, attributes: body.attributes,
                        primaryThumbprint: body.primaryThumbprint, secondaryThumbprint: body.secondaryThumbprint),
                    ifMatch: request.ifMatch)
                return try JSONResponse.make(DeviceResource(device, includeKeys: false), etag: device.etag)
            },
            APIRoute(
                .delete, Self.base + "/{device}", "deleteDevice", "Delete a device (If-Match honoured)",
                permission: .registryWrite, success: (204, nil)
            ) { request, context in
                try await registry.deleteDevice(
                    try request.tenantID(context), try request.deviceID(context), ifMatch: request.ifMatch)
                return JSONResponse.noContent()
            },
        ]
    }
}
