import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: TwinStore {
    public func loadTwins() async throws -> [DeviceTwin] {
        try await read { db in try Row.fetchAll(db, sql: "SELECT * FROM device_twins").map(DeviceStateRows.twin) }
    }

    public func twin(_ tenantID: TenantID, _ deviceID: DeviceID) async throws -> DeviceTwin? {
        try await read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM device_twins WHERE tenant_id = ? AND device_id = ?",
                arguments: [tenantID.rawValue, deviceID.rawValue]
            ).map(DeviceStateRows.twin)
        }
    }

    static func putTwin(_ twin: DeviceTwin, _ section: TwinSection, _ db: Database) throws {
        let columns = try DeviceStateRows.TwinColumns(twin)
        try db.executeCached(
            sql: """
                INSERT INTO device_twins (tenant_id, device_id, desired, desired_version, desired_updated,
                    reported, reported_version, reported_updated)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, device_id) DO UPDATE SET \(DeviceStateRows.twinSectionUpdate(section))
                """,
            arguments: [
                twin.tenantID.rawValue, twin.deviceID.rawValue, columns.desired, twin.desired.version,
                columns.desiredUpdated, columns.reported, twin.reported.version, columns.reportedUpdated,
            ])
    }
}
