import HTTPTypes
import Hummingbird
import WardenAuthentication
import WardenAzure
import WardenCore
import WardenHub

/// IoT Hub's HTTPS device API (anchors.md §1.4) on the HTTPS port: telemetry in, cloud-to-device messages out
/// with ETag lock tokens. Devices authenticate every request with a SAS token in `Authorization`; any
/// `api-version` is accepted. These routes take no bearer credential (their permission is nil) and check the
/// device instead.
struct DeviceHTTPSController {
    let gateway: DeviceGateway
    static let base = "/devices/{device}/messages"
    /// Azure's limit for one device-to-cloud message.
    static let maximumTelemetryBytes = 256 * 1024

    var routes: [APIRoute] {
        [
            APIRoute(
                .post, Self.base + "/events", "deviceSendEvent",
                "Device: send telemetry (iothub-app-* headers are properties); 204 once stored",
                permission: nil, success: (204, nil)
            ) { request, context in
                let sender = try await authenticate(request, context)
                let body = try await request.collectBody(upTo: Self.maximumTelemetryBytes)
                try await gateway.sendTelemetry(
                    from: sender, properties: Self.properties(of: request), body: Array(body.readableBytesView),
                    peer: context.peerAddress)
                return Response(status: .noContent)
            },
            APIRoute(
                .get, Self.base + "/deviceBound", "deviceReceive",
                "Device: lock and receive the oldest cloud-to-device message (ETag = lock token); 204 when none",
                permission: nil, success: (200, nil)
            ) { request, context in
                let sender = try await authenticate(request, context)
                let lock = try request.headers.first { $0.name.canonicalName == "iothub-messagelocktimeout" }.map {
                    field -> Int64 in
                    // total: parses text: nil unless a number in range, then 5...300.
                    guard let seconds = Int64(field.value), (5...300).contains(seconds) else {
                        throw WardenError(.requestInvalidQuery, "IotHub-MessageLockTimeout must be 5 to 300 seconds.")
                    }
                    return seconds
                }
                guard
                    let (message, token) = try await gateway.receive(
                        for: sender, lockSeconds: lock, peer: context.peerAddress)
                else {
                    return Response(status: .noContent)
                }
                return Response(
                    status: .ok, headers: Self.headers(of: message, lockToken: token),
                    body: .init(byteBuffer: ByteBuffer(bytes: message.body)))
            },
            APIRoute(
                .delete, Self.base + "/deviceBound/{etag}", "deviceComplete",
                "Device: complete the message (with ?reject, dead-letter it)", permission: nil, success: (204, nil)
            ) { request, context in
                let sender = try await authenticate(request, context)
                let reject = request.uri.queryParameters.has("reject")
                try await gateway.settle(
                    for: sender, lockToken: try Self.lockToken(request, context), reject ? .reject : .complete)
                return Response(status: .noContent)
            },
            APIRoute(
                .post, Self.base + "/deviceBound/{etag}/abandon", "deviceAbandon",
                "Device: give the message back to the queue (counts a delivery)", permission: nil, success: (204, nil)
            ) { request, context in
                let sender = try await authenticate(request, context)
                try await gateway.settle(for: sender, lockToken: try Self.lockToken(request, context), .abandon)
                return Response(status: .noContent)
            },
        ]
    }

    /// The device: a SAS token in `Authorization`, or the connection's client certificate.
    private func authenticate(_ request: Request, _ context: APIRequestContext) async throws -> AuthenticatedDevice {
        let presented = try? await context.channel.pipeline.handler(type: PresentedCertificates.self).get()
        let host = request.head.authority.map { String($0.prefix { $0 != ":" }) } ?? ""
        return try await gateway.authenticate(
            authorization: request.headers[.authorization], certificates: presented?.chain.certificates ?? [],
            hostName: host, deviceID: try request.parameter("device", context), peer: context.peerAddress)
    }

    /// The lock token of the path, with any quotes an SDK kept from the ETag header.
    private static func lockToken(_ request: Request, _ context: APIRequestContext) throws -> String {
        var token = try request.parameter("etag", context)
        if token.count >= 2, token.hasPrefix("\""), token.hasSuffix("\"") {
            token = String(token.dropFirst().dropLast())
        }
        return token
    }

    /// `iothub-app-{name}` headers as application properties; `iothub-messageid`, `iothub-correlationid`,
    /// `iothub-contenttype` and `iothub-contentencoding` as system properties.
    static func properties(of request: Request) -> [PropertyBag.Property] {
        let system = [
            "iothub-messageid": "$.mid", "iothub-correlationid": "$.cid", "iothub-contenttype": "$.ct",
            "iothub-contentencoding": "$.ce",
        ]
        var properties: [PropertyBag.Property] = []
        for field in request.headers {
            let name = field.name.canonicalName
            if let short = system[name] {
                properties.append(.init(short, field.value))
            } else if name.hasPrefix("iothub-app-"), name.count > "iothub-app-".count {
                // Header names are case-insensitive (and lowercase in HTTP/2): property names arrive in lowercase.
                properties.append(.init(String(name.dropFirst("iothub-app-".count)), field.value))
            }
        }
        return properties
    }

    /// Every `iothub-*` header IoT Hub sends with a received message.
    static func headers(of message: CloudToDeviceMessage, lockToken: String) -> HTTPFields {
        var headers: HTTPFields = [.eTag: "\"\(lockToken)\"", .contentType: "application/octet-stream"]
        func add(_ name: String, _ value: String) {
            if let name = HTTPField.Name(name) { headers.append(HTTPField(name: name, value: value)) }
        }
        add("iothub-messageid", message.messageID)
        add("iothub-sequencenumber", String(message.sequenceNumber))
        add("iothub-to", "/devices/\(message.deviceID.rawValue)/messages/deviceBound")
        add("iothub-ack", message.acknowledgement.rawValue)
        add("iothub-expiry", UTCTimestamp.string(milliseconds: message.expiresAt))
        add("iothub-deliverycount", String(message.deliveryCount))
        add("iothub-enqueuedtime", UTCTimestamp.string(milliseconds: message.enqueuedAt))
        if let correlationID = message.correlationID { add("iothub-correlationid", correlationID) }
        let bag = (try? PropertyBag(parsing: Substring(message.properties))) ?? PropertyBag()
        for property in bag.properties {
            switch property.name {
            case "$.ct": add("ContentType", property.value ?? "")
            case "$.ce": add("ContentEncoding", property.value ?? "")
            default: if !property.isSystem { add("iothub-app-" + property.name, property.value ?? "") }
            }
        }
        return headers
    }
}
