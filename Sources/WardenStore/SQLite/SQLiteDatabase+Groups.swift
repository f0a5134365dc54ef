import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: GroupStore {
    public func createGroup(_ group: DeviceGroup) async throws -> DeviceGroup {
        try await write { db in
            guard try Self.tenantExists(db, group.tenantID) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(group.tenantID)'.")
            }
            guard try Self.groupRow(db, group.tenantID, group.name) == nil else {
                throw WardenError(.groupAlreadyExists, "A group named '\(group.name)' already exists.")
            }
            try db.execute(
                sql: "INSERT INTO device_groups (tenant_id, name, description, created_at) VALUES (?, ?, ?, ?)",
                arguments: [group.tenantID.rawValue, group.name.rawValue, group.description, group.createdAt])
            for member in group.members {
                try Self.insertMember(db, group.tenantID, group.name, member)
            }
        }
        return group
    }

    public func group(_ tenantID: TenantID, _ name: GroupName) async throws -> DeviceGroup? {
        try await read { db in
            try Self.groupRow(db, tenantID, name).map { try Self.group(db, from: $0) }
        }
    }

    public func groups(_ tenantID: TenantID, after cursor: String?, limit: Int) async throws -> Page<DeviceGroup> {
        let groups = try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM device_groups WHERE tenant_id = ? AND name > ? ORDER BY name LIMIT ?",
                arguments: [tenantID.rawValue, cursor ?? "", limit + 1]
            ).map { try Self.group(db, from: $0) }
        }
        return Page.cut(groups, limit: limit) { $0.name.rawValue }
    }

    public func allGroups() async throws -> [DeviceGroup] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM device_groups").map { try Self.group(db, from: $0) }
        }
    }

    public func setMembership(_ tenantID: TenantID, _ name: GroupName, _ device: DeviceID, isMember: Bool)
        async throws -> DeviceGroup
    {
        try await write { db in
            guard let row = try Self.groupRow(db, tenantID, name) else {
                throw WardenError(.groupNotFound, "There is no group '\(name)' in tenant '\(tenantID)'.")
            }
            if isMember {
                try Self.insertMember(db, tenantID, name, device)
            } else {
                try db.execute(
                    sql: "DELETE FROM group_members WHERE tenant_id = ? AND group_name = ? AND device_id = ?",
                    arguments: [tenantID.rawValue, name.rawValue, device.rawValue])
            }
            return try Self.group(db, from: row)
        }
    }

    public func deleteGroup(_ tenantID: TenantID, _ name: GroupName) async throws {
        try await write { db in
            try db.execute(
                sql: "DELETE FROM device_groups WHERE tenant_id = ? AND name = ?",
                arguments: [tenantID.rawValue, name.rawValue])
            guard db.changesCount == 1 else {
                throw WardenError(.groupNotFound, "There is no group '\(name)' in tenant '\(tenantID)'.")
            }
        }
    }

    private static func insertMember(_ db: Database, _ tenantID: TenantID, _ name: GroupName, _ device: DeviceID)
        throws
    {
        guard try DeviceRecord.fetchOne(db, key: key(tenantID, device)) != nil else {
            throw WardenError(.deviceNotFound, "There is no device '\(device)' in tenant '\(tenantID)'.")
        }
        try db.execute(
            sql: "INSERT OR IGNORE INTO group_members (tenant_id, group_name, device_id) VALUES (?, ?, ?)",
            arguments: [tenantID.rawValue, name.rawValue, device.rawValue])
    }

    private static func groupRow(_ db: Database, _ tenantID: TenantID, _ name: GroupName) throws -> Row? {
        try Row.fetchOne(
            db, sql: "SELECT * FROM device_groups WHERE tenant_id = ? AND name = ?",
            arguments: [tenantID.rawValue, name.rawValue])
    }

    private static func group(_ db: Database, from row: Row) throws -> DeviceGroup {
        let members = try String.fetchAll(
            db, sql: "SELECT device_id FROM group_members WHERE tenant_id = ? AND group_name = ?",
            arguments: [try row.value("tenant_id") as String, try row.value("name") as String])
        return try RegistryRows.group(row, members: members)
    }
}
