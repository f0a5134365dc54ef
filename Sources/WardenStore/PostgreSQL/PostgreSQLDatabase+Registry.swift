import Foundation
import PostgresNIO
public import WardenCore

extension PostgreSQLDatabase: TenantStore {
    public func createTenant(_ tenant: Tenant, etag: String) async throws -> Tenant {
        let emptyList = try JSONColumn.encode(AccessList.Entries())
        try await write { connection in
            if try await connection.exists("SELECT 1 FROM tenants WHERE id = \(tenant.id.rawValue)") {
                throw WardenError(.tenantAlreadyExists, "A tenant with id '\(tenant.id)' already exists.")
            }
            if try await connection.exists("SELECT 1 FROM tenants WHERE host_name = \(tenant.hostName.rawValue)") {
                throw WardenError(.tenantHostNameTaken, "Another tenant already uses host name '\(tenant.hostName)'.")
            }
            try await connection.run(
                """
                INSERT INTO tenants (id, host_name, created_at)
                VALUES (\(tenant.id.rawValue), \(tenant.hostName.rawValue), \(tenant.createdAt))
                """)
            try await connection.run(
                """
                INSERT INTO access_lists (tenant_id, allow_json, block_json, etag)
                VALUES (\(tenant.id.rawValue), \(emptyList), \(emptyList), \(etag))
                """)
            try await connection.run(
                """
                INSERT INTO ip_filters (tenant_id, default_action, rules_json, etag)
                VALUES (\(tenant.id.rawValue), 'accept', '[]', \(etag))
                """)
        }
        return tenant
    }

    public func tenants(after cursor: String?, limit: Int) async throws -> Page<Tenant> {
        let tenants = try await read { connection in
            try await connection.rows("SELECT * FROM tenants WHERE id > \(cursor ?? "") ORDER BY id LIMIT \(limit + 1)")
                .map(RegistryRows.tenant)
        }
        return Page.cut(tenants, limit: limit) { $0.id.rawValue }
    }

    public func tenant(_ id: TenantID) async throws -> Tenant? {
        try await read { connection in
            try await connection.rows("SELECT * FROM tenants WHERE id = \(id.rawValue)").first.map(RegistryRows.tenant)
        }
    }

    public func deleteTenant(_ id: TenantID) async throws {
        try await write { connection in
            let devices: Int =
                try await connection.rows("SELECT count(*) AS n FROM devices WHERE tenant_id = \(id.rawValue)")
                .first?.value("n") ?? 0
            guard devices == 0 else {
                throw WardenError(.tenantNotEmpty, "Tenant '\(id)' still has \(devices) devices; delete them first.")
            }
            for table in SQLiteDatabase.tenantOwnedTables {
                try await connection.run("DELETE FROM \(unescaped: table) WHERE tenant_id = \(id.rawValue)")
            }
            guard try await connection.run("DELETE FROM tenants WHERE id = \(id.rawValue)") == 1 else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(id)'.")
            }
        }
    }
}

extension PostgreSQLDatabase: DeviceStore {
    public func createDevice(_ device: Device) async throws -> Device {
        let record = try DeviceRecord(device, sealer: sealer)
        try await write { connection in
            guard try await Self.tenantExists(connection, device.tenantID) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(device.tenantID)'.")
            }
            if try await connection.exists(
                "SELECT 1 FROM devices WHERE tenant_id = \(record.tenantID) AND device_id = \(record.deviceID)")
            {
                throw WardenError(
                    .deviceAlreadyExists,
                    "A device with id '\(device.id)' already exists in tenant '\(device.tenantID)'.")
            }
            try await connection.run(
                """
                INSERT INTO devices (tenant_id, device_id, generation_id, etag, status, status_reason,
                status_updated_at, auth_type, sealed_primary_key, sealed_secondary_key, primary_thumbprint,
                secondary_thumbprint, attributes_json, created_at, updated_at)
                VALUES (\(record.tenantID), \(record.deviceID), \(record.generationID), \(record.etag),
                \(record.status), \(record.statusReason), \(record.statusUpdatedAt), \(record.authType),
                \(record.sealedPrimaryKey), \(record.sealedSecondaryKey), \(record.primaryThumbprint),
                \(record.secondaryThumbprint), \(record.attributesJSON), \(record.createdAt), \(record.updatedAt))
                """)
        }
        return device
    }

    public func device(_ tenantID: TenantID, _ id: DeviceID) async throws -> Device? {
        try await read { connection in
            try await connection.rows(
                "SELECT * FROM devices WHERE tenant_id = \(tenantID.rawValue) AND device_id = \(id.rawValue)"
            ).first.map(DeviceRecord.init(row:))
        }.map { try $0.device(sealer: sealer) }
    }

    public func devices(_ tenantID: TenantID, after cursor: String?, limit: Int) async throws -> Page<Device> {
        let records = try await read { connection in
            try await connection.rows(
                """
                SELECT * FROM devices WHERE tenant_id = \(tenantID.rawValue) AND device_id > \(cursor ?? "")
                ORDER BY device_id LIMIT \(limit + 1)
                """
            ).map(DeviceRecord.init(row:))
        }
        return Page.cut(try records.map { try $0.device(sealer: sealer) }, limit: limit) { $0.id.rawValue }
    }

    public func allDevices() async throws -> [Device] {
        try await read { connection in
            try await connection.rows("SELECT * FROM devices ORDER BY tenant_id, device_id").map(
                DeviceRecord.init(row:))
        }
        .map { try $0.device(sealer: sealer) }
    }

    public func updateDevice(
        _ tenantID: TenantID, _ id: DeviceID, _ change: @escaping @Sendable (inout Device) throws -> DeviceChange
    ) async throws -> (Device, DeviceChange) {
        let sealer = self.sealer
        return try await write { connection in
            guard
                let row = try await connection.rows(
                    "SELECT * FROM devices WHERE tenant_id = \(tenantID.rawValue) AND device_id = \(id.rawValue)"
                ).first
            else { throw WardenError(.deviceNotFound, "There is no device '\(id)' in tenant '\(tenantID)'.") }
            var device = try DeviceRecord(row: row).device(sealer: sealer)
            let what = try change(&device)
            let record = try DeviceRecord(device, sealer: sealer)
            try await connection.run(
                """
                UPDATE devices SET generation_id = \(record.generationID), etag = \(record.etag),
                status = \(record.status), status_reason = \(record.statusReason),
                status_updated_at = \(record.statusUpdatedAt), auth_type = \(record.authType),
                sealed_primary_key = \(record.sealedPrimaryKey), sealed_secondary_key = \(record.sealedSecondaryKey),
                primary_thumbprint = \(record.primaryThumbprint), secondary_thumbprint = \(record.secondaryThumbprint),
                attributes_json = \(record.attributesJSON), created_at = \(record.createdAt),
                updated_at = \(record.updatedAt)
                WHERE tenant_id = \(record.tenantID) AND device_id = \(record.deviceID)
                """)
            return (device, what)
        }
    }

    public func deleteDevice(_ tenantID: TenantID, _ id: DeviceID) async throws {
        try await write { connection in
            guard
                try await connection.run(
                    "DELETE FROM devices WHERE tenant_id = \(tenantID.rawValue) AND device_id = \(id.rawValue)") == 1
            else { throw WardenError(.deviceNotFound, "There is no device '\(id)' in tenant '\(tenantID)'.") }
        }
    }

    public func deviceCounts() async throws -> [TenantID: Int] {
        try await read { connection in
            Dictionary(
                uniqueKeysWithValues: try await connection.rows(
                    "SELECT tenant_id, count(*) AS n FROM devices GROUP BY tenant_id"
                ).map { (try TenantID($0.value("tenant_id")), try $0.value("n") as Int) })
        }
    }

    static func tenantExists(_ connection: PostgresConnection, _ tenantID: TenantID) async throws -> Bool {
        try await connection.exists("SELECT 1 FROM tenants WHERE id = \(tenantID.rawValue)")
    }
}

extension PostgreSQLDatabase: GroupStore {
    public func createGroup(_ group: DeviceGroup) async throws -> DeviceGroup {
        try await write { connection in
            guard try await Self.tenantExists(connection, group.tenantID) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(group.tenantID)'.")
            }
            guard try await Self.groupRow(connection, group.tenantID, group.name) == nil else {
                throw WardenError(.groupAlreadyExists, "A group named '\(group.name)' already exists.")
            }
            try await connection.run(
                """
                INSERT INTO device_groups (tenant_id, name, description, created_at)
                VALUES (\(group.tenantID.rawValue), \(group.name.rawValue), \(group.description), \(group.createdAt))
                """)
            for member in group.members {
                try await Self.insertMember(connection, group.tenantID, group.name, member)
            }
        }
        return group
    }

    public func group(_ tenantID: TenantID, _ name: GroupName) async throws -> DeviceGroup? {
        try await read { connection in
            guard let row = try await Self.groupRow(connection, tenantID, name) else { return nil }
            return try await Self.group(connection, row)
        }
    }

    public func groups(_ tenantID: TenantID, after cursor: String?, limit: Int) async throws -> Page<DeviceGroup> {
        let groups = try await read { connection in
            var groups: [DeviceGroup] = []
            for row in try await connection.rows(
                """
                SELECT * FROM device_groups WHERE tenant_id = \(tenantID.rawValue) AND name > \(cursor ?? "")
                ORDER BY name LIMIT \(limit + 1)
                """)
            {
                groups.append(try await Self.group(connection, row))
            }
            return groups
        }
        return Page.cut(groups, limit: limit) { $0.name.rawValue }
    }

    public func allGroups() async throws -> [DeviceGroup] {
        try await read { connection in
            let members = try await connection.rows("SELECT tenant_id, group_name, device_id FROM group_members")
            var byGroup: [String: [String]] = [:]
            for member in members {
                let tenant: String = try member.value("tenant_id")
                let group: String = try member.value("group_name")
                byGroup["\(tenant)/\(group)", default: []].append(try member.value("device_id"))
            }
            return try await connection.rows("SELECT * FROM device_groups ORDER BY tenant_id, name").map { row in
                let tenant: String = try row.value("tenant_id")
                let group: String = try row.value("name")
                return try RegistryRows.group(row, members: byGroup["\(tenant)/\(group)"] ?? [])
            }
        }
    }

    public func setMembership(_ tenantID: TenantID, _ name: GroupName, _ device: DeviceID, isMember: Bool)
        async throws -> DeviceGroup
    {
        try await write { connection in
            guard let row = try await Self.groupRow(connection, tenantID, name) else {
                throw WardenError(.groupNotFound, "There is no group '\(name)' in tenant '\(tenantID)'.")
            }
            if isMember {
                try await Self.insertMember(connection, tenantID, name, device)
            } else {
                try await connection.run(
                    """
                    DELETE FROM group_members WHERE tenant_id = \(tenantID.rawValue) AND group_name = \(name.rawValue)
                    AND device_id = \(device.rawValue)
                    """)
            }
            return try await Self.group(connection, row)
        }
    }

    public func deleteGroup(_ tenantID: TenantID, _ name: GroupName) async throws {
        try await write { connection in
            guard
                try await connection.run(
                    "DELETE FROM device_groups WHERE tenant_id = \(tenantID.rawValue) AND name = \(name.rawValue)") == 1
            else { throw WardenError(.groupNotFound, "There is no group '\(name)' in tenant '\(tenantID)'.") }
        }
    }

    private static func insertMember(
        _ connection: PostgresConnection, _ tenantID: TenantID, _ name: GroupName, _ device: DeviceID
    ) async throws {
        guard
            try await connection.exists(
                "SELECT 1 FROM devices WHERE tenant_id = \(tenantID.rawValue) AND device_id = \(device.rawValue)")
        else { throw WardenError(.deviceNotFound, "There is no device '\(device)' in tenant '\(tenantID)'.") }
        try await connection.run(
            """
            INSERT INTO group_members (tenant_id, group_name, device_id)
            VALUES (\(tenantID.rawValue), \(name.rawValue), \(device.rawValue)) ON CONFLICT DO NOTHING
            """)
    }

    private static func groupRow(_ connection: PostgresConnection, _ tenantID: TenantID, _ name: GroupName)
        async throws -> PostgresRandomAccessRow?
    {
        try await connection.rows(
            "SELECT * FROM device_groups WHERE tenant_id = \(tenantID.rawValue) AND name = \(name.rawValue)"
        ).first
    }

    private static func group(_ connection: PostgresConnection, _ row: PostgresRandomAccessRow) async throws
        -> DeviceGroup
    {
        let tenant: String = try row.value("tenant_id")
        let name: String = try row.value("name")
        let members = try await connection.rows(
            "SELECT device_id FROM group_members WHERE tenant_id = \(tenant) AND group_name = \(name)"
        ).map { try $0.value("device_id") as String }
        return try RegistryRows.group(row, members: members)
    }
}
