import Foundation
import HTTPTypes
import Hummingbird
import WardenCore
import WardenHub
import WardenRegistry

/// `/api/v1/tenants/{tenant}/devices/{device}/telemetry`: a device's stored messages by time range, exported
/// as JSON Lines or CSV, or followed live as server-sent events.
struct TelemetryController {
    let registry: RegistryService
    let reader: TelemetryReader
    let clock: any WardenClock
    static let base = "/api/v1/tenants/{tenant}/devices/{device}/telemetry"
    /// Messages read per store query while exporting.
    static let exportBatch = 1000

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, Self.base, "listTelemetry", "A device's telemetry by time range (from, to), oldest first",
                permission: .telemetryRead, success: (200, "TelemetryList"), query: QueryParameter.timeBounds
            ) { request, context in
                let scope = try await self.scope(request, context)
                let (cursor, limit) = try request.pagination
                let after = try cursor.map(Self.sequence) ?? -1
                let page = try await reader.page(
                    scope.tenantID, scope.deviceID, from: scope.from, to: scope.to, after: after, limit: limit)
                return try JSONResponse.make(
                    ListResource(
                        items: page.items.map(TelemetryResource.init), nextCursor: PageCursor.encode(page.nextCursor)))
            },
            APIRoute(
                .get, Self.base + "/export", "exportTelemetry",
                "A device's telemetry by time range as JSON Lines (format=jsonl) or CSV (format=csv)",
                permission: .telemetryRead, success: (200, nil),
                query: QueryParameter.timeBounds + [
                    QueryParameter(
                        name: "format", schema: ["type": "string", "enum": ["jsonl", "csv"]],
                        description: "JSON Lines (the default) or CSV.")
                ]
            ) { request, context in
                let scope = try await self.scope(request, context)
                let format = request.uri.queryParameters.get("format") ?? "jsonl"
                guard format == "jsonl" || format == "csv" else {
                    throw WardenError(.requestInvalidQuery, "'format' must be 'jsonl' or 'csv'.")
                }
                let reader = self.reader
                let body = ResponseBody { writer in
                    if format == "csv" {
                        try await writer.write(ByteBuffer(string: TelemetryResource.csvHeader + "\r\n"))
                    }
                    var after: Int64 = -1
                    while true {
                        let page = try await reader.page(
                            scope.tenantID, scope.deviceID, from: scope.from, to: scope.to, after: after,
                            limit: Self.exportBatch)
                        var chunk = ""
                        for message in page.items {
                            let resource = TelemetryResource(message)
                            chunk += format == "csv" ? resource.csvRow + "\r\n" : try JSONResponse.line(resource)
                        }
                        if !chunk.isEmpty { try await writer.write(ByteBuffer(string: chunk)) }
                        guard let last = page.items.last, page.nextCursor != nil else { break }
                        after = last.sequenceNumber
                    }
                    try await writer.finish(nil)
                }
                let contentType = format == "csv" ? "text/csv; charset=utf-8" : "application/jsonl"
                return Response(status: .ok, headers: [.contentType: contentType], body: body)
            },
            APIRoute(
                .get, Self.base + "/stream", "streamTelemetry",
                "New telemetry as server-sent events (id = sequence number; Last-Event-ID or after= replays)",
                permission: .telemetryRead, success: (200, nil),
                query: [
                    QueryParameter(
                        name: "after", schema: ["type": "integer", "minimum": 0],
                        description: "Replay from after this sequence number (as Last-Event-ID).")
                ]
            ) { request, context in
                let tenantID = try request.tenantID(context)
                let deviceID = try request.deviceID(context)
                _ = try await registry.device(tenantID, deviceID)
                let resumeFrom =
                    request.headers.first { $0.name.canonicalName == "last-event-id" }?.value
                    ?? request.uri.queryParameters.get("after").map { String($0) }
                let after = try resumeFrom.map(Self.sequence)
                let messages = reader.follow(tenantID, deviceID, after: after)
                let body = ResponseBody { writer in
                    // A comment first, so that clients and proxies see the stream open at once.
                    try await writer.write(ByteBuffer(string: ": warden telemetry\n\n"))
                    for try await message in messages {
                        let line = try JSONResponse.line(TelemetryResource(message))
                        try await writer.write(
                            ByteBuffer(string: "id: \(message.sequenceNumber)\nevent: telemetry\ndata: \(line)\n"))
                    }
                    try await writer.finish(nil)
                }
                return Response(
                    status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
            },
        ]
    }

    /// The tenant, the device (which must exist) and the time range from `from` and `to`: each an ISO 8601
    /// time or an age such as `15m`, `2h`, `7d` (that long before now); by default everything.
    private func scope(_ request: Request, _ context: APIRequestContext) async throws -> (
        tenantID: TenantID, deviceID: DeviceID, from: Int64, to: Int64
    ) {
        let tenantID = try request.tenantID(context)
        let deviceID = try request.deviceID(context)
        _ = try await registry.device(tenantID, deviceID)
        let query = request.uri.queryParameters
        let now = clock.now()
        let from = try query.get("from").map { try TimeBound.milliseconds(String($0), name: "from", now: now) }
        let to = try query.get("to").map { try TimeBound.milliseconds(String($0), name: "to", now: now) }
        return (tenantID, deviceID, from ?? .min, to ?? .max)
    }

    private static func sequence(_ text: String) throws -> Int64 {
        // total: parses text: nil unless a number in range.
        guard let value = Int64(text), value >= 0 else {
            throw WardenError(.requestInvalidCursor, "'\(text)' is not a telemetry sequence number this API issued.")
        }
        return value
    }

}
