import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: TelemetryStore {
    public func telemetry(
        _ tenantID: TenantID, _ deviceID: DeviceID, from: Int64, to: Int64, afterSequence: Int64, limit: Int
    ) async throws -> [TelemetryMessage] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM telemetry
                    WHERE tenant_id = ? AND device_id = ? AND sequence > ? AND enqueued_at >= ? AND enqueued_at < ?
                    ORDER BY sequence LIMIT ?
                    """,
                arguments: [tenantID.rawValue, deviceID.rawValue, afterSequence, from, to, limit]
            ).map(DeviceStateRows.telemetry)
        }
    }

    public func lastTelemetrySequence() async throws -> Int64 {
        try await read { db in try Int64.fetchOne(db, sql: "SELECT MAX(sequence) FROM telemetry") ?? 0 }
    }

    public func deleteTelemetry(enqueuedBefore before: Int64, limit: Int) async throws -> Int {
        try await deleteOldest(from: "telemetry", by: "enqueued_at", before: before, limit: limit)
    }

    /// Deletes up to `limit` rows of an append-only table whose `column` (a time) is before `before`, oldest
    /// first, in one short transaction; returns how many. Table and column come from this module, never input.
    func deleteOldest(from table: String, by column: String, before: Int64, limit: Int) async throws -> Int {
        try await write { db in
            try db.execute(
                sql: """
                    DELETE FROM \(table) WHERE sequence IN
                        (SELECT sequence FROM \(table) WHERE \(column) < ? ORDER BY \(column) LIMIT ?)
                    """,
                arguments: [before, limit])
            return db.changesCount
        }
    }

    /// How many telemetry rows one INSERT carries (7 values each, far within SQLite's 32,766): a busy hub's
    /// batches are mostly telemetry, and one statement per row spent more on preparing arguments and executing
    /// than on storing.
    static let telemetryRowsPerStatement = 64

    /// The INSERT of `n` rows at `[n - 1]`; each is prepared once and cached by the connection.
    private static let telemetryInserts: [String] = (1...telemetryRowsPerStatement).map { rows in
        "INSERT INTO telemetry (sequence, tenant_id, device_id, enqueued_at, auth_method, properties, body) VALUES "
            + repeatElement("(?, ?, ?, ?, ?, ?, ?)", count: rows).joined(separator: ", ")
    }

    static func appendTelemetry(_ messages: some Collection<TelemetryMessage>, _ db: Database) throws {
        var rest = messages[...]
        while !rest.isEmpty {
            let rows = rest.prefix(telemetryRowsPerStatement)
            rest = rest.dropFirst(rows.count)
            // Database values, not optionals of existentials: boxing each value was a third of the writer's time.
            var values: [DatabaseValue] = []
            values.reserveCapacity(rows.count * 7)
            for message in rows {
                values += [
                    message.sequenceNumber.databaseValue, message.tenantID.rawValue.databaseValue,
                    message.deviceID.rawValue.databaseValue, message.enqueuedAtMilliseconds.databaseValue,
                    message.authMethod.rawValue.databaseValue, message.properties.databaseValue,
                    Data(message.body).databaseValue,
                ]
            }
            try db.cachedStatement(sql: telemetryInserts[rows.count - 1]).execute(arguments: StatementArguments(values))
        }
    }
}
