import Foundation
import Hummingbird
import WardenCore
import WardenHub
import WardenRegistry

/// `/api/v1/tenants/{tenant}/devices/{device}/twin`: read a device's twin; patch its desired properties.
/// The ETag is the desired properties' version, for If-Match.
struct TwinController {
    let registry: RegistryService
    let twins: TwinService
    static let base = "/api/v1/tenants/{tenant}/devices/{device}/twin"

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, Self.base, "getTwin",
                "A device's twin: desired and reported properties with versions and metadata",
                permission: .registryRead, success: (200, "Twin")
            ) { request, context in
                let (tenantID, deviceID) = try await device(request, context)
                let twin = twins.twin(tenantID, deviceID)
                return try JSONResponse.make(Self.resource(twin), etag: String(twin.desired.version))
            },
            APIRoute(
                .patch, Self.base + "/desired", "patchDesired",
                "Patch desired properties (JSON merge patch; null deletes); a connected device is told",
                permission: .devicesControl, request: "TwinPatch", success: (200, "Twin")
            ) { request, context in
                let (tenantID, deviceID) = try await device(request, context)
                let ifMatch = try request.ifMatch.map { text in
                    // total: parses text: nil unless a number in range.
                    guard let version = Int(text) else {
                        throw WardenError(.twinVersionMismatch, "If-Match must be the desired version, a number.")
                    }
                    return version
                }
                let body = try await request.collectBody(upTo: context.maxUploadSize)
                let patch = try TwinService.patch(body.readableBytesView)
                let twin = try await twins.patchDesired(tenantID, deviceID, patch, ifMatch: ifMatch)
                return try JSONResponse.make(Self.resource(twin), etag: String(twin.desired.version))
            },
        ]
    }

    /// IoT Hub's twin shape: each section's properties with `$version` and `$metadata` (`$lastUpdated`,
    /// `$lastUpdatedVersion`, and `$lastUpdated` per top-level property).
    static func resource(_ twin: DeviceTwin) -> JSONValue {
        func section(_ section: DeviceTwin.Section) -> JSONValue {
            var properties = section.properties
            var metadata: [String: JSONValue] = ["$lastUpdatedVersion": .number(section.version)]
            if section.version > 0 {
                metadata["$lastUpdated"] = .string(UTCTimestamp.string(milliseconds: section.sectionUpdated))
            }
            for (name, time) in section.lastUpdated {
                metadata[name] = ["$lastUpdated": .string(UTCTimestamp.string(milliseconds: time))]
            }
            properties["$version"] = .number(section.version)
            properties["$metadata"] = .object(metadata)
            return .object(properties)
        }
        return [
            "deviceId": .string(twin.deviceID.rawValue),
            "version": .number(twin.desired.version &+ twin.reported.version),
            "properties": ["desired": section(twin.desired), "reported": section(twin.reported)],
        ]
    }

    private func device(_ request: Request, _ context: APIRequestContext) async throws -> (TenantID, DeviceID) {
        let tenantID = try request.tenantID(context)
        let deviceID = try request.deviceID(context)
        _ = try await registry.device(tenantID, deviceID)
        return (tenantID, deviceID)
    }
}
