import Foundation
import Hummingbird
import WardenAPI
import WardenCore
import WardenDefender
import WardenRegistry

/// The Defender's inventory of a tenant's devices (issue 16, "Identify"), as a table and as CSV.
extension Pages {
    struct InventoryRow {
        let deviceId: String
        let statusDisabled: Bool
        let authentication: String
        let lastConnected: String
        let address: String
        let `protocol`: String
        let tlsVersion: String
        let cipherSuite: String
        let clientLibrary: String
        let certificateExpires: String
        let flowsText: String
        let quarantine: String?

        init(_ item: InventoryResource) {
            deviceId = item.deviceId
            statusDisabled = item.status == "disabled"
            authentication = item.authentication
            lastConnected = item.lastConnectedAt.map(Pages.time) ?? "never"
            address = item.address ?? ""
            `protocol` = item.protocol ?? ""
            tlsVersion = item.tlsVersion.map { "TLS \($0)" } ?? ""
            cipherSuite = item.cipherSuite ?? ""
            clientLibrary = item.clientLibrary ?? ""
            certificateExpires = item.certificateExpiresAt.map(Pages.time) ?? ""
            let rate = item.flows.messagesPerSecond.map { String(format: "%.2f msg/s", $0) }
            flowsText = ([rate].compactMap { $0 } + item.flows.topics).joined(separator: " · ")
            quarantine = item.quarantine
        }
    }

    struct InventoryPage {
        let tenant: String
        let summary: String
        let devices: [InventoryRow]
    }

    /// Devices one inventory view or download holds: the first this many by id (the API and the CLI page
    /// through them all).
    static let inventoryWindow = 1_000

    var inventoryRoutes: [PortalRoute] {
        [
            PortalRoute(.get, "/t/{tenant}/inventory", "inventory", permission: .registryRead) { request, portal in
                let (tenant, items, more) = try await inventory(portal)
                return page(
                    "inventory",
                    InventoryPage(
                        tenant: tenant.rawValue,
                        summary: "\(items.count) devices" + (more ? " (the first \(Self.inventoryWindow) by id)" : ""),
                        devices: items.map(InventoryRow.init)),
                    title: "Inventory", request, portal)
            },
            PortalRoute(.get, "/t/{tenant}/inventory.csv", "inventoryCSV", permission: .registryRead) { _, portal in
                let (tenant, items, _) = try await inventory(portal)
                let body = ([InventoryResource.csvHeader] + items.map(\.csvLine)).joined(separator: "\r\n") + "\r\n"
                return Response(
                    status: .ok,
                    headers: [
                        .contentType: "text/csv; charset=utf-8",
                        .contentDisposition: "attachment; filename=\"inventory-\(tenant.rawValue).csv\"",
                    ],
                    body: .init(byteBuffer: ByteBuffer(string: body)))
            },
        ]
    }

    private func inventory(_ portal: PortalRequest) async throws -> (TenantID, [InventoryResource], Bool) {
        let tenant = try portal.requireTenant()
        let page = try await dependencies.registry.devices(tenant, after: nil, limit: Self.inventoryWindow)
        let entries = try await dependencies.defender.inventory(of: page.items, in: tenant)
        return (tenant, entries.map(InventoryResource.init), page.nextCursor != nil)
    }
}
