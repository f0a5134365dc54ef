import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: CloudToDeviceStore {
    public func loadCloudToDeviceMessages() async throws -> [CloudToDeviceMessage] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM c2d_messages ORDER BY sequence").map(DeviceStateRows.cloudToDevice)
        }
    }

    public func cloudToDeviceMessage(sequence: Int64) async throws -> CloudToDeviceMessage? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM c2d_messages WHERE sequence = ?", arguments: [sequence])
                .map(DeviceStateRows.cloudToDevice)
        }
    }

    public func cloudToDeviceMessage(_ tenantID: TenantID, _ deviceID: DeviceID, lockToken: String) async throws
        -> CloudToDeviceMessage?
    {
        try await read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM c2d_messages WHERE lock_token = ? AND tenant_id = ? AND device_id = ?",
                arguments: [lockToken, tenantID.rawValue, deviceID.rawValue]
            ).map(DeviceStateRows.cloudToDevice)
        }
    }

    public func lastCloudToDeviceSequences() async throws -> (message: Int64, feedback: Int64) {
        try await read { db in
            (
                try Int64.fetchOne(db, sql: "SELECT MAX(sequence) FROM c2d_messages") ?? 0,
                try Int64.fetchOne(db, sql: "SELECT MAX(sequence) FROM c2d_feedback") ?? 0
            )
        }
    }

    public func feedback(_ tenantID: TenantID, afterSequence: Int64, limit: Int) async throws
        -> [CloudToDeviceFeedback]
    {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM c2d_feedback WHERE tenant_id = ? AND sequence > ? ORDER BY sequence LIMIT ?",
                arguments: [tenantID.rawValue, afterSequence, limit]
            ).map(DeviceStateRows.feedback)
        }
    }

    public func deleteFeedback(recordedBefore before: Int64, limit: Int) async throws -> Int {
        try await deleteOldest(from: "c2d_feedback", by: "recorded_at", before: before, limit: limit)
    }

    static func putCloudToDevice(_ message: CloudToDeviceMessage, _ db: Database) throws {
        try db.executeCached(
            sql: """
                INSERT OR REPLACE INTO c2d_messages (sequence, tenant_id, device_id, message_id, correlation_id,
                    properties, body, ack, enqueued_at, expires_at, delivery_count, lock_token, lock_until)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                message.sequenceNumber, message.tenantID.rawValue, message.deviceID.rawValue, message.messageID,
                message.correlationID, message.properties, Data(message.body), message.acknowledgement.rawValue,
                message.enqueuedAt, message.expiresAt, message.deliveryCount, message.httpsLock?.token,
                message.httpsLock?.until,
            ])
    }

    static func appendFeedback(_ feedback: CloudToDeviceFeedback, _ db: Database) throws {
        try db.executeCached(
            sql: """
                INSERT INTO c2d_feedback (sequence, tenant_id, device_id, original_message_id, status, description,
                    enqueued_at, recorded_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                feedback.sequenceNumber, feedback.tenantID.rawValue, feedback.deviceID.rawValue,
                feedback.originalMessageID, feedback.status.rawValue, feedback.description, feedback.enqueuedAt,
                feedback.recordedAt,
            ])
    }
}
