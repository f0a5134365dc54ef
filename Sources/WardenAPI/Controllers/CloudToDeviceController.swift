import Hummingbird
import WardenCore
import WardenHub
import WardenRegistry

/// `/api/v1/tenants/{tenant}/devices/{device}/c2d`: send to a device's queue, list and purge it; and the
/// tenant's feedback records.
struct CloudToDeviceController {
    let registry: RegistryService
    let service: CloudToDeviceService
    static let base = "/api/v1/tenants/{tenant}/devices/{device}/c2d"

    var routes: [APIRoute] {
        [
            APIRoute(
                .post, Self.base, "sendCloudToDevice", "Queue a cloud-to-device message (accepted once committed)",
                permission: .devicesControl, request: "SendCloudToDevice", success: (201, "CloudToDevice")
            ) { request, context in
                let (tenantID, deviceID) = try await device(request, context)
                let body = try await request.decodeJSON(SendCloudToDeviceRequest.self, context)
                let message = try await service.send(try body.request(), to: deviceID, in: tenantID)
                return try JSONResponse.make(CloudToDeviceResource(message), status: .created)
            },
            APIRoute(
                .get, Self.base, "listCloudToDevice", "The device's queue, oldest first", permission: .registryRead,
                success: (200, "CloudToDeviceList")
            ) { request, context in
                let (tenantID, deviceID) = try await device(request, context)
                let items = service.list(tenantID, deviceID).map {
                    CloudToDeviceResource($0.message, isLocked: $0.isLocked)
                }
                return try JSONResponse.make(ListResource(items: items, nextCursor: nil))
            },
            APIRoute(
                .delete, Self.base, "purgeCloudToDevice", "Empty the device's queue", permission: .devicesControl,
                success: (200, "Purge")
            ) { request, context in
                let (tenantID, deviceID) = try await device(request, context)
                return try JSONResponse.make(PurgeResource(purged: await service.purge(tenantID, deviceID)))
            },
            APIRoute(
                .get, "/api/v1/tenants/{tenant}/c2d-feedback", "listFeedback",
                "Feedback on cloud-to-device messages (ack positive, negative or full), oldest first",
                permission: .telemetryRead, success: (200, "FeedbackList")
            ) { request, context in
                let tenantID = try request.tenantID(context)
                _ = try await registry.tenant(tenantID)
                let (cursor, limit) = try request.pagination
                let after =
                    try cursor.map { text -> Int64 in
                        // total: parses text: nil unless a number in range.
                        guard let value = Int64(text) else {
                            throw WardenError(.requestInvalidCursor, "The cursor is not one this API issued.")
                        }
                        return value
                    } ?? 0
                let page = try await service.feedback(tenantID, after: after, limit: limit)
                return try JSONResponse.make(
                    ListResource(
                        items: page.items.map(FeedbackResource.init), nextCursor: PageCursor.encode(page.nextCursor)))
            },
        ]
    }

    /// The tenant and device of the path; the device must exist.
    private func device(_ request: Request, _ context: APIRequestContext) async throws -> (TenantID, DeviceID) {
        let tenantID = try request.tenantID(context)
        let deviceID = try request.deviceID(context)
        _ = try await registry.device(tenantID, deviceID)
        return (tenantID, deviceID)
    }
}
