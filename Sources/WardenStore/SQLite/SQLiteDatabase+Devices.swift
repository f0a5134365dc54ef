import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: DeviceStore {
    public func createDevice(_ device: Device) async throws -> Device {
        let record = try DeviceRecord(device, sealer: sealer)
        try await write { db in
            guard try Self.tenantExists(db, device.tenantID) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(device.tenantID)'.")
            }
            guard try DeviceRecord.fetchOne(db, key: Self.key(device.tenantID, device.id)) == nil else {
                throw WardenError(
                    .deviceAlreadyExists,
                    "A device with id '\(device.id)' already exists in tenant '\(device.tenantID)'.")
            }
            try record.insert(db)
        }
        return device
    }

    public func device(_ tenantID: TenantID, _ id: DeviceID) async throws -> Device? {
        try await read { db in try DeviceRecord.fetchOne(db, key: Self.key(tenantID, id)) }
            .map { try $0.device(sealer: sealer) }
    }

    public func devices(_ tenantID: TenantID, after cursor: String?, limit: Int) async throws -> Page<Device> {
        let records = try await read { db in
            try DeviceRecord
                .filter(
                    DeviceRecord.Columns.tenantID == tenantID.rawValue && DeviceRecord.Columns.deviceID > (cursor ?? "")
                )
                .order(DeviceRecord.Columns.deviceID)
                .limit(limit + 1)
                .fetchAll(db)
        }
        return Page.cut(try records.map { try $0.device(sealer: sealer) }, limit: limit) { $0.id.rawValue }
    }

    public func allDevices() async throws -> [Device] {
        try await read { db in try DeviceRecord.fetchAll(db) }.map { try $0.device(sealer: sealer) }
    }

    public func updateDevice(
        _ tenantID: TenantID, _ id: DeviceID, _ change: @escaping @Sendable (inout Device) throws -> DeviceChange
    ) async throws -> (Device, DeviceChange) {
        let sealer = self.sealer
        return try await write { db in
            guard let record = try DeviceRecord.fetchOne(db, key: Self.key(tenantID, id)) else {
                throw WardenError(.deviceNotFound, "There is no device '\(id)' in tenant '\(tenantID)'.")
            }
            var device = try record.device(sealer: sealer)
            let what = try change(&device)
            try DeviceRecord(device, sealer: sealer).update(db)
            return (device, what)
        }
    }

    public func deleteDevice(_ tenantID: TenantID, _ id: DeviceID) async throws {
        try await write { db in
            guard try DeviceRecord.deleteOne(db, key: Self.key(tenantID, id)) else {
                throw WardenError(.deviceNotFound, "There is no device '\(id)' in tenant '\(tenantID)'.")
            }
        }
    }

    public func deviceCounts() async throws -> [TenantID: Int] {
        try await read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT tenant_id, count(*) AS n FROM devices GROUP BY tenant_id")
            return try Dictionary(
                uniqueKeysWithValues: rows.map {
                    (try TenantID($0.decode(forColumn: "tenant_id")), try $0.decode(forColumn: "n"))
                })
        }
    }

    static func key(_ tenantID: TenantID, _ id: DeviceID) -> [String: String] {
        ["tenant_id": tenantID.rawValue, "device_id": id.rawValue]
    }

    static func tenantExists(_ db: Database, _ tenantID: TenantID) throws -> Bool {
        try Row.fetchOne(db, sql: "SELECT 1 FROM tenants WHERE id = ?", arguments: [tenantID.rawValue]) != nil
    }
}
