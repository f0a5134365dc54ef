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

    /// A twin stored at a version above 0 is only updated: one deleted meanwhile (its device deleted) stays gone.
    public func replaceDesired(of twin: DeviceTwin, ifAt version: Int) async throws -> Bool {
        try await write { db in
            if version == 0 {
                try Self.putTwin(twin, .desired, db, onlyIfNoDesired: true)
            } else {
                let columns = try DeviceStateRows.TwinColumns(twin)
                try db.execute(
                    sql: """
                        UPDATE device_twins SET desired = ?, desired_version = ?, desired_updated = ?
                        WHERE tenant_id = ? AND device_id = ? AND desired_version = ?
                        """,
                    arguments: [
                        columns.desired, twin.desired.version, columns.desiredUpdated, twin.tenantID.rawValue,
                        twin.deviceID.rawValue, version,
                    ])
            }
            return db.changesCount > 0
        }
    }

    /// Writes `section` of `twin`, inserting the row if there is none; with `onlyIfNoDesired`, updates only a row
    /// whose desired section was never set.
    static func putTwin(_ twin: DeviceTwin, _ section: TwinSection, _ db: Database, onlyIfNoDesired: Bool = false)
        throws
    {
        let columns = try DeviceStateRows.TwinColumns(twin)
        try db.executeCached(
            sql: """
                INSERT INTO device_twins (tenant_id, device_id, desired, desired_version, desired_updated,
                    reported, reported_version, reported_updated)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, device_id) DO UPDATE SET \(DeviceStateRows.twinSectionUpdate(section))
                """ + (onlyIfNoDesired ? " WHERE device_twins.desired_version = 0" : ""),
            arguments: [
                twin.tenantID.rawValue, twin.deviceID.rawValue, columns.desired, twin.desired.version,
                columns.desiredUpdated, columns.reported, twin.reported.version, columns.reportedUpdated,
            ])
    }
}
