public import Foundation
import PostgresNIO
public import WardenCore

extension PostgreSQLDatabase: ProvisioningStore {
    public func idScope(_ tenantID: TenantID, orAssign candidate: String) async throws -> String {
        try await write { connection in
            if let row = try await connection.rows(
                "SELECT id_scope FROM provisioning_scopes WHERE tenant_id = \(tenantID.rawValue)"
            ).first {
                return try row.value("id_scope")
            }
            guard try await Self.tenantExists(connection, tenantID) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(tenantID)'.")
            }
            try await connection.run(
                "INSERT INTO provisioning_scopes (tenant_id, id_scope) VALUES (\(tenantID.rawValue), \(candidate))")
            return candidate
        }
    }

    public func tenant(forScope idScope: String) async throws -> TenantID? {
        try await read { connection in
            try await connection.rows("SELECT tenant_id FROM provisioning_scopes WHERE id_scope = \(idScope)").first
                .map { try TenantID($0.value("tenant_id")) }
        }
    }

    public func createEnrollment(_ enrollment: Enrollment) async throws -> Enrollment {
        let row = try EnrollmentRow(enrollment, sealer: sealer)
        try await write { connection in
            guard try await Self.tenantExists(connection, enrollment.tenantID) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(enrollment.tenantID)'.")
            }
            if try await connection.exists(
                """
                SELECT 1 FROM enrollments WHERE tenant_id = \(row.tenantID) AND kind = \(row.kind)
                AND name = \(row.name)
                """)
            {
                throw WardenError(.enrollmentAlreadyExists, "Enrollment \(enrollment.kind.reference) exists already.")
            }
            try await row.save(connection)
        }
        return enrollment
    }

    public func enrollment(_ tenantID: TenantID, _ kind: Enrollment.Kind) async throws -> Enrollment? {
        let sealer = self.sealer
        return try await read { connection in
            try await Self.enrollmentRow(connection, tenantID, kind).map {
                try ProvisioningRows.enrollment($0, sealer: sealer)
            }
        }
    }

    public func enrollments(_ tenantID: TenantID) async throws -> [Enrollment] {
        let sealer = self.sealer
        return try await read { connection in
            try await connection.rows(
                "SELECT * FROM enrollments WHERE tenant_id = \(tenantID.rawValue) ORDER BY kind, name"
            ).map { try ProvisioningRows.enrollment($0, sealer: sealer) }
        }
    }

    public func updateEnrollment(
        _ tenantID: TenantID, _ kind: Enrollment.Kind, _ change: @escaping @Sendable (inout Enrollment) throws -> Void
    ) async throws -> Enrollment {
        let sealer = self.sealer
        return try await write { connection in
            guard
                var enrollment = try await Self.enrollmentRow(connection, tenantID, kind).map({
                    try ProvisioningRows.enrollment($0, sealer: sealer)
                })
            else {
                throw WardenError(.enrollmentNotFound, "There is no enrollment \(kind.reference) in '\(tenantID)'.")
            }
            try change(&enrollment)
            try await EnrollmentRow(enrollment, sealer: sealer).save(connection)
            return enrollment
        }
    }

    public func deleteEnrollment(_ tenantID: TenantID, _ kind: Enrollment.Kind) async throws {
        let (kindText, name) = EnrollmentRow.key(kind)
        try await write { connection in
            guard
                try await connection.run(
                    """
                    DELETE FROM enrollments WHERE tenant_id = \(tenantID.rawValue) AND kind = \(kindText)
                    AND name = \(name)
                    """) > 0
            else {
                throw WardenError(.enrollmentNotFound, "There is no enrollment \(kind.reference) in '\(tenantID)'.")
            }
        }
    }

    public func registration(_ tenantID: TenantID, registrationID: DeviceID) async throws -> Registration? {
        try await read { connection in
            try await connection.rows(
                """
                SELECT assigned_tenant, device_id, created_at FROM registrations
                WHERE tenant_id = \(tenantID.rawValue) AND registration_id = \(registrationID.rawValue)
                """
            ).first.map { try ProvisioningRows.registration($0, tenantID: tenantID) }
        }
    }

    public func recordRegistration(
        _ tenantID: TenantID, registrationID: DeviceID, enrollment: String, assignedTenant: TenantID,
        deviceID: DeviceID, at: Date
    ) async throws -> Date {
        try await write { connection in
            let created: Date? = try await connection.rows(
                """
                SELECT created_at FROM registrations
                WHERE tenant_id = \(tenantID.rawValue) AND registration_id = \(registrationID.rawValue)
                """
            ).first.map { try $0.value("created_at") as Date }
            try await connection.run(
                """
                INSERT INTO registrations (tenant_id, registration_id, enrollment, device_id, assigned_tenant,
                    created_at, updated_at)
                VALUES (\(tenantID.rawValue), \(registrationID.rawValue), \(enrollment), \(deviceID.rawValue),
                \(assignedTenant.rawValue), \(at), \(at))
                ON CONFLICT (tenant_id, registration_id) DO UPDATE SET
                enrollment = excluded.enrollment, device_id = excluded.device_id,
                assigned_tenant = excluded.assigned_tenant, updated_at = excluded.updated_at
                """)
            return created ?? at
        }
    }

    public func putProvisioningOperation(_ operation: StoredProvisioningOperation, now: Int64) async throws {
        try await write { connection in
            try await connection.run("DELETE FROM provisioning_operations WHERE expires_at < \(now)")
            try await connection.run(
                """
                INSERT INTO provisioning_operations (id, tenant_id, registration_id, enrollment, body, expires_at)
                VALUES (\(operation.id), \(operation.tenantID.rawValue), \(operation.registrationID.rawValue),
                \(operation.enrollment), \(Data(operation.body)), \(operation.expiresAt))
                """)
        }
    }

    public func provisioningOperation(_ id: String, now: Int64) async throws -> StoredProvisioningOperation? {
        try await read { connection in
            try await connection.rows(
                "SELECT * FROM provisioning_operations WHERE id = \(id) AND expires_at >= \(now)"
            ).first.map(ProvisioningRows.operation)
        }
    }

    private static func enrollmentRow(
        _ connection: PostgresConnection, _ tenantID: TenantID, _ kind: Enrollment.Kind
    ) async throws -> PostgresRandomAccessRow? {
        let (kindText, name) = EnrollmentRow.key(kind)
        return try await connection.rows(
            """
            SELECT * FROM enrollments WHERE tenant_id = \(tenantID.rawValue) AND kind = \(kindText)
            AND name = \(name)
            """
        ).first
    }
}

extension EnrollmentRow {
    /// Inserts the row, or replaces every column but the key and `created_at`.
    func save(_ connection: PostgresConnection) async throws {
        try await connection.run(
            """
            INSERT INTO enrollments (tenant_id, kind, name, attestation, primary_key, secondary_key,
                certificate_authority, primary_thumbprint, secondary_thumbprint, enabled, initial_desired,
                device_id, tenants, allocation, sealed_webhook, reprovisioning, created_at, updated_at)
            VALUES (\(tenantID), \(kind), \(name), \(attestation), \(primary), \(secondary),
            \(certificateAuthority), \(primaryThumbprint), \(secondaryThumbprint), \(enabled), \(initialDesired),
            \(deviceID), \(tenants), \(allocation), \(webhook), \(reprovisioning), \(createdAt), \(updatedAt))
            ON CONFLICT (tenant_id, kind, name) DO UPDATE SET attestation = excluded.attestation,
            primary_key = excluded.primary_key, secondary_key = excluded.secondary_key,
            certificate_authority = excluded.certificate_authority,
            primary_thumbprint = excluded.primary_thumbprint,
            secondary_thumbprint = excluded.secondary_thumbprint, enabled = excluded.enabled,
            initial_desired = excluded.initial_desired, device_id = excluded.device_id,
            tenants = excluded.tenants, allocation = excluded.allocation, sealed_webhook = excluded.sealed_webhook,
            reprovisioning = excluded.reprovisioning, updated_at = excluded.updated_at
            """)
    }
}
