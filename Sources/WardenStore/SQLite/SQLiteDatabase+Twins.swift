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

    public func replaceDesired(of twin: DeviceTwin, ifAt version: Int) async throws -> Bool {
        try await write { db in
            try Self.putTwin(twin, .desired, db, ifDesiredAt: version)
            return db.changesCount > 0
        }
    }

    /// Writes `section` of `twin`, inserting the row if there is none; with `ifDesiredAt`, updates only a row whose
    /// desired section is at that version.
    static func putTwin(_ twin: DeviceTwin, _ section: TwinSection, _ db: Database, ifDesiredAt version: Int? = nil)
        throws
    {
        let columns = try DeviceStateRows.TwinColumns(twin)
        var arguments: StatementArguments = [
            twin.tenantID.rawValue, twin.deviceID.rawValue, columns.desired, twin.desired.version,
            columns.desiredUpdated, columns.reported, twin.reported.version, columns.reportedUpdated,
        ]
        if let version { arguments += [version] }
        try db.executeCached(
            sql: """
                INSERT INTO device_twins (tenant_id, device_id, desired, desired_version, desired_updated,
                    reported, reported_version, reported_updated)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, device_id) DO UPDATE SET \(DeviceStateRows.twinSectionUpdate(section))
                """ + (version == nil ? "" : " WHERE device_twins.desired_version = ?"),
            arguments: arguments)
    }
}
