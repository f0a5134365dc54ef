import Foundation
import Hummingbird
import WardenAPI
import WardenCore
import WardenHub
import WardenRegistry
import WardenSecurity

extension Pages {
    struct DeviceRow {
        let tenant: String
        let id: String
        let status: String
        let statusClass: String
        let connected: Bool
        let authentication: String
        let lastActivity: String
    }

    struct DevicesPage {
        let tenant: String
        /// Nil without a search (an empty string would still open a Mustache section).
        let query: String?
        let summary: String
        let devices: [DeviceRow]
        let canCreate: Bool
        let csrf: String
    }

    struct TelemetryRow {
        let sequence: Int64
        let at: String
        let properties: String
        let body: String
    }

    struct DevicePage {
        let tenant: String
        let id: String
        let status: String
        let statusClass: String
        let statusReason: String
        let statusUpdatedAt: String
        let createdAt: String
        let authentication: String
        let connected: Bool
        let enabled: Bool
        let canControl: Bool
        let canRotate: Bool
        let queued: Int
        let telemetry: [TelemetryRow]
        let twin: String
        let csrf: String
        let connectionString: String?
    }

    /// Devices searched per page view: the first this many by id.
    static let searchWindow = 10_000

    var deviceRoutes: [PortalRoute] {
        let base = "/t/{tenant}/devices"
        return [
            PortalRoute(.get, base, "devices", permission: .registryRead) { request, portal in
                let tenant = try portal.requireTenant()
                let query = (request.uri.queryParameters.get("q").map { String($0) } ?? "").lowercased()
                var devices: [Device] = []
                var cursor: String?
                var scanned = 0
                repeat {
                    let page = try await dependencies.registry.devices(tenant, after: cursor, limit: 1000)
                    scanned += page.items.count
                    devices += page.items.filter { query.isEmpty || $0.id.rawValue.lowercased().contains(query) }
                    cursor = page.nextCursor
                } while cursor != nil && devices.count < 200 && scanned < Self.searchWindow
                devices = Array(devices.prefix(200))
                let presence = await dependencies.hub.presence.presence(
                    in: tenant, of: devices.map(\.id), countingTenant: true)
                let rows = devices.map { device in
                    Self.row(
                        device, connected: presence.connected.contains(device.id.rawValue),
                        lastActivity: presence.lastActivity[device.id.rawValue])
                }
                let summary =
                    "\(rows.count) shown\(rows.count >= 200 ? " (the first 200)" : ""); "
                    + "\(presence.connectedCount) connected now"
                return page(
                    "devices",
                    DevicesPage(
                        tenant: tenant.rawValue, query: query.isEmpty ? nil : query, summary: summary, devices: rows,
                        canCreate: portal.principal.may(.registryWrite, in: tenant), csrf: portal.session.csrf),
                    title: "Devices", request, portal)
            },
            PortalRoute(.post, base, "createDevice", permission: .registryWrite) { _, portal in
                let tenant = try portal.requireTenant()
                let device = try await dependencies.registry.createDevice(
                    tenant, .init(id: try DeviceID(portal.field("deviceId"))))
                portal.context.auditDetail("after", "\(device.id) \(device.status.rawValue)")
                return .redirect("/t/\(tenant.rawValue)/devices/\(Self.segment(device.id.rawValue))")
            },
            PortalRoute(.get, base + "/{device}", "device", permission: .registryRead) { request, portal in
                try await devicePage(request, portal, connectionString: nil)
            },
            PortalRoute(.post, base + "/{device}/status", "setDeviceStatus", permission: .devicesControl) {
                _, portal in
                let tenant = try portal.requireTenant()
                let id = try DeviceID(portal.parameter("device"))
                guard let status = Device.Status(rawValue: portal.field("status")) else {
                    throw WardenError(.requestInvalidField, "The status must be enabled or disabled.")
                }
                let reason = portal.field("reason")
                let before = try await dependencies.registry.device(tenant, id)
                let device = try await dependencies.registry.updateDevice(
                    tenant, id, .init(status: status, statusReason: .some(reason.isEmpty ? nil : reason)),
                    ifMatch: nil)
                portal.context.auditDetail("before", before.status.rawValue)
                portal.context.auditDetail(
                    "after", "\(device.status.rawValue) (\(reason.isEmpty ? "no reason" : reason))")
                return .redirect("/t/\(tenant.rawValue)/devices/\(Self.segment(id.rawValue))")
            },
            PortalRoute(.post, base + "/{device}/keys", "rotateDeviceKey", permission: .credentialsManage) {
                request, portal in
                let tenant = try portal.requireTenant()
                let id = try DeviceID(portal.parameter("device"))
                _ = try await dependencies.registry.rotateKeys(tenant, id, .primary, ifMatch: nil)
                portal.context.auditDetail("after", "primary key rotated")
                let text = try await dependencies.registry.connectionString(
                    tenant, id, gatewayHostName: dependencies.gatewayHostName)
                return try await devicePage(
                    request, portal, connectionString: String(decoding: text.bytes, as: UTF8.self))
            },
            PortalRoute(.post, base + "/{device}/c2d", "sendCloudToDevice", permission: .devicesControl) { _, portal in
                let tenant = try portal.requireTenant()
                let id = try DeviceID(portal.parameter("device"))
                _ = try await dependencies.registry.device(tenant, id)
                let message = try await dependencies.hub.cloudToDevice.send(
                    .init(body: Array((portal.form["body"] ?? "").utf8)), to: id, in: tenant)
                portal.context.auditDetail("after", "message \(message.messageID)")
                return .redirect("/t/\(tenant.rawValue)/devices/\(Self.segment(id.rawValue))")
            },
        ]
    }

    private func devicePage(_ request: Request, _ portal: PortalRequest, connectionString: String?) async throws
        -> Response
    {
        let tenant = try portal.requireTenant()
        let device = try await dependencies.registry.device(tenant, try DeviceID(portal.parameter("device")))
        let now = dependencies.clock.nowMilliseconds()
        let telemetry = try await dependencies.hub.telemetry.page(
            tenant, device.id, from: now - 86_400_000, to: .max, after: -1, limit: 1000)
        let rows = telemetry.items.suffix(20).reversed().map { message in
            TelemetryRow(
                sequence: message.sequenceNumber, at: UTCTimestamp.string(milliseconds: message.enqueuedAtMilliseconds),
                properties: message.properties,
                body: String(decoding: message.body.prefix(256), as: UTF8.self))
        }
        let twin = dependencies.hub.twins.twin(tenant, device.id)
        let principal = portal.principal
        let page = DevicePage(
            tenant: tenant.rawValue, id: device.id.rawValue, status: device.status.rawValue,
            statusClass: device.status == .enabled ? "good" : "bad", statusReason: device.statusReason ?? "-",
            statusUpdatedAt: Self.time(device.statusUpdatedAt), createdAt: Self.time(device.createdAt),
            authentication: Self.authentication(device),
            connected: await dependencies.hub.presence.presence(in: tenant, of: [device.id]).connected.contains(
                device.id.rawValue),
            enabled: device.status == .enabled, canControl: principal.may(.devicesControl, in: tenant),
            canRotate: principal.may(.credentialsManage, in: tenant) && Self.isSAS(device),
            queued: dependencies.hub.cloudToDevice.list(tenant, device.id).count, telemetry: Array(rows),
            twin: Self.describe(twin), csrf: portal.session.csrf, connectionString: connectionString)
        return self.page("device", page, title: "Device \(device.id)", request, portal)
    }

    /// A list row; the last activity is the last connection or disconnection since the server started, else
    /// the last status change.
    static func row(_ device: Device, connected: Bool, lastActivity: Int64?) -> DeviceRow {
        DeviceRow(
            tenant: device.tenantID.rawValue, id: device.id.rawValue, status: device.status.rawValue,
            statusClass: device.status == .enabled ? "good" : "bad", connected: connected,
            authentication: authentication(device),
            lastActivity: lastActivity.map { UTCTimestamp.string(milliseconds: $0) }
                ?? "status changed " + time(device.statusUpdatedAt))
    }

    static func authentication(_ device: Device) -> String {
        switch device.authentication {
        case .sas: "SAS keys"
        case .x509Thumbprint: "X.509 thumbprint"
        case .x509CA: "X.509 CA"
        }
    }

    static func isSAS(_ device: Device) -> Bool {
        if case .sas = device.authentication { return true }
        return false
    }

    /// Both sections as indented JSON with their versions.
    static func describe(_ twin: DeviceTwin) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        func json(_ section: DeviceTwin.Section) -> String {
            (try? encoder.encode(section.properties)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        }
        return "desired (version \(twin.desired.version)):\n\(json(twin.desired))\n\n"
            + "reported (version \(twin.reported.version)):\n\(json(twin.reported))"
    }

    static func segment(_ text: String) -> String {
        PercentEncoding.encode(text)
    }
}

extension PortalRequest {
    /// The `{tenant}` of the path (the guard has checked the principal may see it).
    func requireTenant() throws -> TenantID {
        guard let tenant else { throw WardenError(.tenantNotFound, "The path names no tenant.") }
        return tenant
    }
}
