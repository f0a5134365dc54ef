public import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: ProvisioningStore {
    public func idScope(_ tenantID: TenantID, orAssign candidate: String) async throws -> String {
        try await write { db in
            if let scope = try String.fetchOne(
                db, sql: "SELECT id_scope FROM provisioning_scopes WHERE tenant_id = ?", arguments: [tenantID.rawValue])
            {
                return scope
            }
            guard try Self.tenantExists(db, tenantID) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(tenantID)'.")
            }
            try db.execute(
                sql: "INSERT INTO provisioning_scopes (tenant_id, id_scope) VALUES (?, ?)",
                arguments: [tenantID.rawValue, candidate])
            return candidate
        }
    }

    public func tenant(forScope idScope: String) async throws -> TenantID? {
        try await read { db in
            try String.fetchOne(
                db, sql: "SELECT tenant_id FROM provisioning_scopes WHERE id_scope = ?", arguments: [idScope]
            ).map { try TenantID($0) }
        }
    }

    public func createEnrollment(_ enrollment: Enrollment) async throws -> Enrollment {
        let row = try EnrollmentRow(enrollment, sealer: sealer)
        try await write { db in
            guard try Self.tenantExists(db, enrollment.tenantID) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(enrollment.tenantID)'.")
            }
            let taken = try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM enrollments WHERE tenant_id = ? AND kind = ? AND name = ?)",
                arguments: [enrollment.tenantID.rawValue, row.kind, row.name])
            guard taken != true else {
                throw WardenError(.enrollmentAlreadyExists, "Enrollment \(enrollment.kind.reference) exists already.")
            }
            try row.save(db)
        }
        return enrollment
    }

    public func enrollment(_ tenantID: TenantID, _ kind: Enrollment.Kind) async throws -> Enrollment? {
        let (kindText, name) = EnrollmentRow.key(kind)
        let sealer = self.sealer
        return try await read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM enrollments WHERE tenant_id = ? AND kind = ? AND name = ?",
                arguments: [tenantID.rawValue, kindText, name]
            ).map { try EnrollmentRow.enrollment($0, sealer: sealer) }
        }
    }

    public func enrollments(_ tenantID: TenantID) async throws -> [Enrollment] {
        let sealer = self.sealer
        return try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM enrollments WHERE tenant_id = ? ORDER BY kind, name",
                arguments: [tenantID.rawValue]
            ).map { try EnrollmentRow.enrollment($0, sealer: sealer) }
        }
    }

    public func updateEnrollment(
        _ tenantID: TenantID, _ kind: Enrollment.Kind, _ change: @escaping @Sendable (inout Enrollment) throws -> Void
    ) async throws -> Enrollment {
        let (kindText, name) = EnrollmentRow.key(kind)
        let sealer = self.sealer
        return try await write { db in
            guard
                var enrollment = try Row.fetchOne(
                    db, sql: "SELECT * FROM enrollments WHERE tenant_id = ? AND kind = ? AND name = ?",
                    arguments: [tenantID.rawValue, kindText, name]
                ).map({ try EnrollmentRow.enrollment($0, sealer: sealer) })
            else {
                throw WardenError(.enrollmentNotFound, "There is no enrollment \(kind.reference) in '\(tenantID)'.")
            }
            try change(&enrollment)
            try EnrollmentRow(enrollment, sealer: sealer).save(db)
            return enrollment
        }
    }

    public func deleteEnrollment(_ tenantID: TenantID, _ kind: Enrollment.Kind) async throws {
        let (kindText, name) = EnrollmentRow.key(kind)
        try await write { db in
            try db.execute(
                sql: "DELETE FROM enrollments WHERE tenant_id = ? AND kind = ? AND name = ?",
                arguments: [tenantID.rawValue, kindText, name])
            guard db.changesCount > 0 else {
                throw WardenError(.enrollmentNotFound, "There is no enrollment \(kind.reference) in '\(tenantID)'.")
            }
        }
    }

    public func registration(_ tenantID: TenantID, registrationID: DeviceID) async throws -> Registration? {
        try await read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT assigned_tenant, device_id, created_at FROM registrations
                    WHERE tenant_id = ? AND registration_id = ?
                    """,
                arguments: [tenantID.rawValue, registrationID.rawValue]
            ).map { row in
                Registration(
                    tenantID: try (row.decode(String?.self, forColumn: "assigned_tenant")).map { try TenantID($0) }
                        ?? tenantID,
                    deviceID: try DeviceID(row.decode(forColumn: "device_id")),
                    createdAt: try row.decode(forColumn: "created_at"))
            }
        }
    }

    public func recordRegistration(
        _ tenantID: TenantID, registrationID: DeviceID, enrollment: String, assignedTenant: TenantID,
        deviceID: DeviceID, at: Date
    ) async throws -> Date {
        try await write { db in
            let created = try Date.fetchOne(
                db, sql: "SELECT created_at FROM registrations WHERE tenant_id = ? AND registration_id = ?",
                arguments: [tenantID.rawValue, registrationID.rawValue])
            try db.execute(
                sql: """
                    INSERT INTO registrations (tenant_id, registration_id, enrollment, device_id, assigned_tenant,
                        created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, registration_id) DO UPDATE SET
                    enrollment = excluded.enrollment, device_id = excluded.device_id,
                    assigned_tenant = excluded.assigned_tenant, updated_at = excluded.updated_at
                    """,
                arguments: [
                    tenantID.rawValue, registrationID.rawValue, enrollment, deviceID.rawValue, assignedTenant.rawValue,
                    at, at,
                ])
            return created ?? at
        }
    }
}

/// An enrollment as the `enrollments` table holds it: symmetric keys sealed (an X.509 enrollment has empty
/// ones), the CA or thumbprints of an X.509 one, the initial twin as JSON text.
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

    func save(_ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO enrollments (tenant_id, kind, name, attestation, primary_key, secondary_key,
                    certificate_authority, primary_thumbprint, secondary_thumbprint, enabled, initial_desired,
                    device_id, tenants, allocation, sealed_webhook, reprovisioning, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, kind, name) DO UPDATE SET attestation = excluded.attestation,
                primary_key = excluded.primary_key, secondary_key = excluded.secondary_key,
                certificate_authority = excluded.certificate_authority,
                primary_thumbprint = excluded.primary_thumbprint,
                secondary_thumbprint = excluded.secondary_thumbprint, enabled = excluded.enabled,
                initial_desired = excluded.initial_desired, device_id = excluded.device_id,
                tenants = excluded.tenants, allocation = excluded.allocation, sealed_webhook = excluded.sealed_webhook,
                reprovisioning = excluded.reprovisioning, updated_at = excluded.updated_at
                """,
            arguments: [
                tenantID, kind, name, attestation, primary, secondary, certificateAuthority, primaryThumbprint,
                secondaryThumbprint, enabled, initialDesired, deviceID, tenants, allocation, webhook, reprovisioning,
                createdAt, updatedAt,
            ])
    }

    static func enrollment(_ row: Row, sealer: any SecretSealer) throws -> Enrollment {
        let tenant: String = try row.decode(forColumn: "tenant_id")
        let kindText: String = try row.decode(forColumn: "kind")
        let name: String = try row.decode(forColumn: "name")
        let kind: Enrollment.Kind =
            kindText == "group" ? .group(try EnrollmentGroupName(name)) : .individual(try DeviceID(name))
        let attestation: Enrollment.Attestation
        if let authority: String = try row.decode(forColumn: "certificate_authority") {
            attestation = .certificateAuthority(try CAName(authority))
        } else if let first: String = try row.decode(forColumn: "primary_thumbprint") {
            let second: String? = try row.decode(forColumn: "secondary_thumbprint")
            attestation = .thumbprints(primary: try Thumbprint(first), secondary: try second.map { try Thumbprint($0) })
        } else {
            let primary = try sealer.open(
                Array(try row.decode(Data.self, forColumn: "primary_key")),
                context: context(tenant, kindText, name, "primary"))
            let secondary = try sealer.open(
                Array(try row.decode(Data.self, forColumn: "secondary_key")),
                context: context(tenant, kindText, name, "secondary"))
            attestation = .symmetricKey(SASKeyPair(primary: primary, secondary: secondary))
        }
        let desired: String? = try row.decode(forColumn: "initial_desired")
        let tenants: String? = try row.decode(forColumn: "tenants")
        let allocation: Enrollment.Allocation
        switch try row.decode(String.self, forColumn: "allocation") {
        case "hashed": allocation = .hashed
        case "custom":
            let url = try sealer.open(
                Array(try row.decode(Data.self, forColumn: "sealed_webhook")),
                context: context(tenant, kindText, name, "webhook"))
            allocation = .custom(webhook: String(decoding: url.bytes, as: UTF8.self))
        default: allocation = .static
        }
        let reprovisioningText: String = try row.decode(forColumn: "reprovisioning")
        guard let reprovisioning = Enrollment.Reprovisioning(rawValue: reprovisioningText) else {
            throw WardenError(.storeUnusable, "An enrollment's reprovision policy '\(reprovisioningText)' is unknown.")
        }
        return Enrollment(
            tenantID: try TenantID(tenant), kind: kind, attestation: attestation,
            isEnabled: try row.decode(forColumn: "enabled"),
            initialDesired: try desired.map { try JSONColumn.decode(JSONValue.self, $0, column: "initial_desired") },
            deviceID: try (row.decode(String?.self, forColumn: "device_id")).map { try DeviceID($0) },
            tenants: try (tenants.map { try JSONColumn.decode([String].self, $0, column: "tenants") } ?? []).map {
                try TenantID($0)
            },
            allocation: allocation, reprovisioning: reprovisioning,
            createdAt: try row.decode(forColumn: "created_at"), updatedAt: try row.decode(forColumn: "updated_at"))
    }
}
