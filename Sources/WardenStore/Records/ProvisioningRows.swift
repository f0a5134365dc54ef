import Foundation
import WardenCore

/// Rows of the provisioning tables as domain values, for both engines.
enum ProvisioningRows {
    static func operation(_ row: some StoreRow) throws -> StoredProvisioningOperation {
        StoredProvisioningOperation(
            id: try row.value("id"), tenantID: try TenantID(row.value("tenant_id")),
            registrationID: try DeviceID(row.value("registration_id")), enrollment: try row.value("enrollment"),
            body: Array(try row.value("body") as Data), expiresAt: try row.value("expires_at"))
    }

    /// An enrollment, its symmetric keys and custom allocation webhook opened under the contexts
    /// `EnrollmentRow` sealed them with.
    static func enrollment(_ row: some StoreRow, sealer: any SecretSealer) throws -> Enrollment {
        let tenant: String = try row.value("tenant_id")
        let kindText: String = try row.value("kind")
        let name: String = try row.value("name")
        let context = { EnrollmentRow.context(tenant, kindText, name, $0) }
        let kind: Enrollment.Kind =
            kindText == "group" ? .group(try EnrollmentGroupName(name)) : .individual(try DeviceID(name))
        let attestation: Enrollment.Attestation
        if let authority: String = try row.value("certificate_authority") {
            attestation = .certificateAuthority(try CAName(authority))
        } else if let first: String = try row.value("primary_thumbprint") {
            let second: String? = try row.value("secondary_thumbprint")
            attestation = .thumbprints(primary: try Thumbprint(first), secondary: try second.map { try Thumbprint($0) })
        } else {
            let primary: Data = try row.value("primary_key")
            let secondary: Data = try row.value("secondary_key")
            attestation = .symmetricKey(
                SASKeyPair(
                    primary: try sealer.open(Array(primary), context: context("primary")),
                    secondary: try sealer.open(Array(secondary), context: context("secondary"))))
        }
        let allocation: Enrollment.Allocation
        switch try row.value("allocation") as String {
        case "hashed": allocation = .hashed
        case "custom":
            let sealed: Data = try row.value("sealed_webhook")
            let url = try sealer.open(Array(sealed), context: context("webhook"))
            allocation = .custom(webhook: String(decoding: url.bytes, as: UTF8.self))
        default: allocation = .static
        }
        let reprovisioningText: String = try row.value("reprovisioning")
        guard let reprovisioning = Enrollment.Reprovisioning(rawValue: reprovisioningText) else {
            throw WardenError(.storeUnusable, "An enrollment's reprovision policy '\(reprovisioningText)' is unknown.")
        }
        let desired: String? = try row.value("initial_desired")
        let tenants: String? = try row.value("tenants")
        return Enrollment(
            tenantID: try TenantID(tenant), kind: kind, attestation: attestation, isEnabled: try row.value("enabled"),
            initialDesired: try desired.map { try JSONColumn.decode(JSONValue.self, $0, column: "initial_desired") },
            deviceID: try (row.value("device_id") as String?).map { try DeviceID($0) },
            tenants: try (tenants.map { try JSONColumn.decode([String].self, $0, column: "tenants") } ?? []).map {
                try TenantID($0)
            },
            allocation: allocation, reprovisioning: reprovisioning, createdAt: try row.value("created_at"),
            updatedAt: try row.value("updated_at"))
    }

    /// Where a registration id registered through `tenantID`'s ID scope was last assigned (`assigned_tenant`
    /// NULL: that tenant itself).
    static func registration(_ row: some StoreRow, tenantID: TenantID) throws -> Registration {
        Registration(
            tenantID: try (row.value("assigned_tenant") as String?).map { try TenantID($0) } ?? tenantID,
            deviceID: try DeviceID(row.value("device_id")), createdAt: try row.value("created_at"))
    }
}

/// An enrollment as the `enrollments` table holds it: symmetric keys sealed (an X.509 enrollment has empty
/// ones), the CA or thumbprints of an X.509 one, the initial twin as JSON text. Each engine writes it with its
/// own `save`.
struct EnrollmentRow {
    let tenantID: String
    let kind: String
    let name: String
    let attestation: String
    let primary: Data
    let secondary: Data
    let certificateAuthority: String?
    let primaryThumbprint: String?
    let secondaryThumbprint: String?
    let enabled: Bool
    let initialDesired: String?
    let deviceID: String?
    /// JSON array of tenant ids, or nil for the enrollment's own.
    let tenants: String?
    let allocation: String
    let webhook: Data?
    let reprovisioning: String
    let createdAt: Date
    let updatedAt: Date

    static func key(_ kind: Enrollment.Kind) -> (String, String) {
        switch kind {
        case .group(let name): ("group", name.rawValue)
        case .individual(let id): ("individual", id.rawValue)
        }
    }

    static func context(_ tenantID: String, _ kind: String, _ name: String, _ slot: String) -> String {
        "enrollments/\(tenantID)/\(kind)/\(name)/\(slot)"
    }

    init(_ enrollment: Enrollment, sealer: any SecretSealer) throws {
        tenantID = enrollment.tenantID.rawValue
        (kind, name) = Self.key(enrollment.kind)
        attestation = enrollment.attestation.type
        let (tenant, kindText, nameText) = (tenantID, kind, name)
        let keys = enrollment.attestation.keys
        primary =
            try keys.map {
                Data(try sealer.seal($0.primary, context: Self.context(tenant, kindText, nameText, "primary")))
            }
            ?? Data()
        secondary =
            try keys.map {
                Data(try sealer.seal($0.secondary, context: Self.context(tenant, kindText, nameText, "secondary")))
            } ?? Data()
        switch enrollment.attestation {
        case .symmetricKey: (certificateAuthority, primaryThumbprint, secondaryThumbprint) = (nil, nil, nil)
        case .certificateAuthority(let authority):
            (certificateAuthority, primaryThumbprint, secondaryThumbprint) = (authority.rawValue, nil, nil)
        case .thumbprints(let first, let second):
            (certificateAuthority, primaryThumbprint, secondaryThumbprint) = (nil, first.rawValue, second?.rawValue)
        }
        enabled = enrollment.isEnabled
        initialDesired = try enrollment.initialDesired.map(JSONColumn.encode)
        deviceID = enrollment.deviceID?.rawValue
        tenants = enrollment.tenants.isEmpty ? nil : try JSONColumn.encode(enrollment.tenants.map(\.rawValue))
        allocation = enrollment.allocation.name
        if case .custom(let url) = enrollment.allocation {
            webhook = Data(
                try sealer.seal(
                    SecretBytes(Array(url.utf8)), context: Self.context(tenant, kindText, nameText, "webhook"))
            )
        } else {
            webhook = nil
        }
        reprovisioning = enrollment.reprovisioning.rawValue
        createdAt = enrollment.createdAt
        updatedAt = enrollment.updatedAt
    }
}
