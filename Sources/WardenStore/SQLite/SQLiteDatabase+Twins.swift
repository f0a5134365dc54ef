import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: TwinStore {
    /// A section's stored form: the properties and `{"sectionUpdated": ms, "properties": {name: ms}}`.
    private struct Updated: Codable {
        let section: Int64
        let properties: [String: Int64]
    }

    public func loadTwins() async throws -> [DeviceTwin] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM device_twins").map { row in
                var twin = DeviceTwin(
                    tenantID: try TenantID(row.decode(forColumn: "tenant_id")),
                    deviceID: try DeviceID(row.decode(forColumn: "device_id")))
                twin.desired = try Self.section(
                    try row.decode(forColumn: "desired"), try row.decode(forColumn: "desired_version"),
                    try row.decode(forColumn: "desired_updated"))
                twin.reported = try Self.section(
                    try row.decode(forColumn: "reported"), try row.decode(forColumn: "reported_version"),
                    try row.decode(forColumn: "reported_updated"))
                return twin
            }
        }
    }

    static func putTwin(_ twin: DeviceTwin, _ db: Database) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        func text(_ value: some Encodable) throws -> String {
            String(decoding: try encoder.encode(value), as: UTF8.self)
        }
        try db.executeCached(
            sql: """
                INSERT OR REPLACE INTO device_twins (tenant_id, device_id, desired, desired_version, desired_updated,
                    reported, reported_version, reported_updated)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                twin.tenantID.rawValue, twin.deviceID.rawValue, try text(twin.desired.properties),
                twin.desired.version,
                try text(Updated(section: twin.desired.sectionUpdated, properties: twin.desired.lastUpdated)),
                try text(twin.reported.properties), twin.reported.version,
                try text(Updated(section: twin.reported.sectionUpdated, properties: twin.reported.lastUpdated)),
            ])
    }

    private static func section(_ properties: String, _ version: Int, _ updated: String) throws -> DeviceTwin.Section {
        let decoder = JSONDecoder()
        var section = DeviceTwin.Section()
        section.properties = try decoder.decode([String: JSONValue].self, from: Data(properties.utf8))
        section.version = version
        let times = try decoder.decode(Updated.self, from: Data(updated.utf8))
        section.sectionUpdated = times.section
        section.lastUpdated = times.properties
        return section
    }
}
