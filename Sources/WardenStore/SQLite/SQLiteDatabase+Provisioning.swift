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
            ).map { try ProvisioningRows.enrollment($0, sealer: sealer) }
        }
    }

    public func enrollments(_ tenantID: TenantID) async throws -> [Enrollment] {
        let sealer = self.sealer
        return try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM enrollments WHERE tenant_id = ? ORDER BY kind, name",
                arguments: [tenantID.rawValue]
            ).map { try ProvisioningRows.enrollment($0, sealer: sealer) }
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
                ).map({ try ProvisioningRows.enrollment($0, sealer: sealer) })
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
            ).map { try ProvisioningRows.registration($0, tenantID: tenantID) }
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

    public func putProvisioningOperation(_ operation: StoredProvisioningOperation, now: Int64) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM provisioning_operations WHERE expires_at < ?", arguments: [now])
            try db.execute(
                sql: """
                    INSERT INTO provisioning_operations (id, tenant_id, registration_id, enrollment, body, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    operation.id, operation.tenantID.rawValue, operation.registrationID.rawValue,
                    operation.enrollment, Data(operation.body), operation.expiresAt,
                ])
        }
    }

    public func provisioningOperation(_ id: String, now: Int64) async throws -> StoredProvisioningOperation? {
        try await read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM provisioning_operations WHERE id = ? AND expires_at >= ?", arguments: [id, now]
            ).map(ProvisioningRows.operation)
        }
    }
}

/// How SQLite writes an enrollment row: inserted, or every column but the key and `created_at` replaced.
extension EnrollmentRow {
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
}
