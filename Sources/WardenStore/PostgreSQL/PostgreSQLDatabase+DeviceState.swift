import Foundation
import PostgresNIO
public import WardenCore

extension PostgreSQLDatabase: DeviceStateStore {
    public func apply(_ changes: [DeviceStateChange]) async throws {
        let changes = DeviceStateChange.withoutSuperseded(changes)
        guard !changes.isEmpty else { return }
        try await write { connection in
            for change in changes { try await Self.apply(change, connection) }
        }
    }

    public func loadMQTTState() async throws -> MQTTStateSnapshot {
        try await read { connection in
            var snapshot = MQTTStateSnapshot()
            snapshot.sessions = try await connection.rows("SELECT * FROM mqtt_sessions").map(DeviceStateRows.session)
            snapshot.subscriptions = try await connection.rows("SELECT * FROM mqtt_subscriptions")
                .map(DeviceStateRows.subscription)
            snapshot.messages = try await connection.rows(
                "SELECT * FROM mqtt_session_messages ORDER BY tenant_id, client_id, sequence"
            ).map(DeviceStateRows.message)
            snapshot.retained = try await connection.rows("SELECT * FROM mqtt_retained").map(DeviceStateRows.retained)
            return snapshot
        }
    }

    // total: every Int64(…) below widens an unsigned value.
    private static func apply(_ change: DeviceStateChange, _ connection: PostgresConnection) async throws {
        switch change {
        case .putSession(let session):
            try await connection.run(
                """
                INSERT INTO mqtt_sessions (tenant_id, client_id, expiry_interval, disconnected_at)
                VALUES (\(session.tenantID.rawValue), \(session.clientID), \(Int64(session.expiryInterval)),
                \(session.disconnectedAt?.timeIntervalSince1970))
                ON CONFLICT (tenant_id, client_id) DO UPDATE
                SET expiry_interval = excluded.expiry_interval, disconnected_at = excluded.disconnected_at
                """)
        case .deleteSession(let tenantID, let clientID):
            try await connection.run(
                "DELETE FROM mqtt_sessions WHERE tenant_id = \(tenantID.rawValue) AND client_id = \(clientID)")
        case .putSubscription(let subscription):
            try await connection.run(
                """
                INSERT INTO mqtt_subscriptions (tenant_id, client_id, filter, options, identifier)
                VALUES (\(subscription.tenantID.rawValue), \(subscription.clientID), \(subscription.filter),
                \(Int64(subscription.options)), \(subscription.identifier))
                ON CONFLICT (tenant_id, client_id, filter) DO UPDATE
                SET options = excluded.options, identifier = excluded.identifier
                """)
        case .deleteSubscription(let tenantID, let clientID, let filter):
            try await connection.run(
                """
                DELETE FROM mqtt_subscriptions
                WHERE tenant_id = \(tenantID.rawValue) AND client_id = \(clientID) AND filter = \(filter)
                """)
        case .putMessage(let stored):
            try await connection.run(
                """
                INSERT INTO mqtt_session_messages (tenant_id, client_id, sequence, topic, payload, qos, properties,
                    expires_at, delivery_qos, retain, subscription_identifiers, packet_id, phase)
                VALUES (\(stored.tenantID.rawValue), \(stored.clientID), \(stored.sequence), \(stored.message.topic),
                \(Data(stored.message.payload)), \(Int64(stored.message.qos)), \(Data(stored.message.properties)),
                \(stored.message.expiresAt?.timeIntervalSince1970), \(Int64(stored.deliveryQoS)), \(stored.retain),
                \(DeviceStateRows.identifiersText(stored.subscriptionIdentifiers)), \(stored.packetID.map { Int64($0) }),
                \(Int64(stored.phase)))
                ON CONFLICT (tenant_id, client_id, sequence) DO UPDATE SET topic = excluded.topic,
                payload = excluded.payload, qos = excluded.qos, properties = excluded.properties,
                expires_at = excluded.expires_at, delivery_qos = excluded.delivery_qos, retain = excluded.retain,
                subscription_identifiers = excluded.subscription_identifiers, packet_id = excluded.packet_id,
                phase = excluded.phase
                """)
        case .updateMessage(let tenantID, let clientID, let sequence, let packetID, let phase):
            try await connection.run(
                """
                UPDATE mqtt_session_messages SET packet_id = \(packetID.map { Int64($0) }), phase = \(Int64(phase))
                WHERE tenant_id = \(tenantID.rawValue) AND client_id = \(clientID) AND sequence = \(sequence)
                """)
        case .deleteMessage(let tenantID, let clientID, let sequence):
            try await connection.run(
                """
                DELETE FROM mqtt_session_messages
                WHERE tenant_id = \(tenantID.rawValue) AND client_id = \(clientID) AND sequence = \(sequence)
                """)
        case .putRetained(let retained):
            try await connection.run(
                """
                INSERT INTO mqtt_retained (tenant_id, topic, payload, qos, properties, expires_at)
                VALUES (\(retained.tenantID.rawValue), \(retained.message.topic), \(Data(retained.message.payload)),
                \(Int64(retained.message.qos)), \(Data(retained.message.properties)),
                \(retained.message.expiresAt?.timeIntervalSince1970))
                ON CONFLICT (tenant_id, topic) DO UPDATE SET payload = excluded.payload, qos = excluded.qos,
                properties = excluded.properties, expires_at = excluded.expires_at
                """)
        case .deleteRetained(let tenantID, let topic):
            try await connection.run(
                "DELETE FROM mqtt_retained WHERE tenant_id = \(tenantID.rawValue) AND topic = \(topic)")
        case .appendTelemetry(let message):
            try await connection.run(
                """
                INSERT INTO telemetry (sequence, tenant_id, device_id, enqueued_at, auth_method, properties, body)
                VALUES (\(message.sequenceNumber), \(message.tenantID.rawValue), \(message.deviceID.rawValue),
                \(message.enqueuedAtMilliseconds), \(message.authMethod.rawValue), \(message.properties),
                \(Data(message.body)))
                """)
        case .putCloudToDevice(let message):
            try await connection.run(
                """
                INSERT INTO c2d_messages (sequence, tenant_id, device_id, message_id, correlation_id, properties, body,
                    ack, enqueued_at, expires_at, delivery_count)
                VALUES (\(message.sequenceNumber), \(message.tenantID.rawValue), \(message.deviceID.rawValue),
                \(message.messageID), \(message.correlationID), \(message.properties), \(Data(message.body)),
                \(message.acknowledgement.rawValue), \(message.enqueuedAt), \(message.expiresAt),
                \(message.deliveryCount))
                ON CONFLICT (sequence) DO UPDATE SET tenant_id = excluded.tenant_id, device_id = excluded.device_id,
                message_id = excluded.message_id, correlation_id = excluded.correlation_id,
                properties = excluded.properties, body = excluded.body, ack = excluded.ack,
                enqueued_at = excluded.enqueued_at, expires_at = excluded.expires_at,
                delivery_count = excluded.delivery_count
                """)
        case .deleteCloudToDevice(let sequence):
            try await connection.run("DELETE FROM c2d_messages WHERE sequence = \(sequence)")
        case .appendFeedback(let feedback):
            try await connection.run(
                """
                INSERT INTO c2d_feedback (sequence, tenant_id, device_id, original_message_id, status, description,
                    enqueued_at, recorded_at)
                VALUES (\(feedback.sequenceNumber), \(feedback.tenantID.rawValue), \(feedback.deviceID.rawValue),
                \(feedback.originalMessageID), \(feedback.status.rawValue), \(feedback.description),
                \(feedback.enqueuedAt), \(feedback.recordedAt))
                """)
        case .putTwin(let twin):
            let columns = try DeviceStateRows.TwinColumns(twin)
            try await connection.run(
                """
                INSERT INTO device_twins (tenant_id, device_id, desired, desired_version, desired_updated, reported,
                    reported_version, reported_updated)
                VALUES (\(twin.tenantID.rawValue), \(twin.deviceID.rawValue), \(columns.desired),
                \(twin.desired.version), \(columns.desiredUpdated), \(columns.reported), \(twin.reported.version),
                \(columns.reportedUpdated))
                ON CONFLICT (tenant_id, device_id) DO UPDATE SET desired = excluded.desired,
                desired_version = excluded.desired_version, desired_updated = excluded.desired_updated,
                reported = excluded.reported, reported_version = excluded.reported_version,
                reported_updated = excluded.reported_updated
                """)
        case .deleteTwin(let tenantID, let deviceID):
            try await connection.run(
                "DELETE FROM device_twins WHERE tenant_id = \(tenantID.rawValue) AND device_id = \(deviceID.rawValue)")
        }
    }
}

extension PostgreSQLDatabase: TelemetryStore {
    public func telemetry(
        _ tenantID: TenantID, _ deviceID: DeviceID, from: Int64, to: Int64, afterSequence: Int64, limit: Int
    ) async throws -> [TelemetryMessage] {
        try await read { connection in
            try await connection.rows(
                """
                SELECT * FROM telemetry
                WHERE tenant_id = \(tenantID.rawValue) AND device_id = \(deviceID.rawValue)
                AND sequence > \(afterSequence) AND enqueued_at >= \(from) AND enqueued_at < \(to)
                ORDER BY sequence LIMIT \(limit)
                """
            ).map(DeviceStateRows.telemetry)
        }
    }

    public func lastTelemetrySequence() async throws -> Int64 {
        try await maxSequence(of: "telemetry")
    }

    public func deleteTelemetry(enqueuedBefore before: Int64, limit: Int) async throws -> Int {
        try await deleteOldest(from: "telemetry", by: "enqueued_at", before: before, limit: limit)
    }

    /// The highest `sequence` of a table of this module's (0 when empty).
    func maxSequence(of table: String) async throws -> Int64 {
        try await read { connection in
            try await connection.rows("SELECT max(sequence) AS newest FROM \(unescaped: table)").first?.value("newest")
                ?? 0
        }
    }

    /// As `SQLiteDatabase.deleteOldest`: up to `limit` rows whose `column` is before `before`, oldest first.
    func deleteOldest(from table: String, by column: String, before: Int64, limit: Int) async throws -> Int {
        try await write { connection in
            try await connection.run(
                """
                DELETE FROM \(unescaped: table) WHERE sequence IN
                    (SELECT sequence FROM \(unescaped: table) WHERE \(unescaped: column) < \(before)
                     ORDER BY \(unescaped: column) LIMIT \(limit))
                """)
        }
    }
}

extension PostgreSQLDatabase: CloudToDeviceStore {
    public func loadCloudToDeviceMessages() async throws -> [CloudToDeviceMessage] {
        try await read { connection in
            try await connection.rows("SELECT * FROM c2d_messages ORDER BY sequence").map(DeviceStateRows.cloudToDevice)
        }
    }

    public func lastCloudToDeviceSequences() async throws -> (message: Int64, feedback: Int64) {
        (try await maxSequence(of: "c2d_messages"), try await maxSequence(of: "c2d_feedback"))
    }

    public func feedback(_ tenantID: TenantID, afterSequence: Int64, limit: Int) async throws
        -> [CloudToDeviceFeedback]
    {
        try await read { connection in
            try await connection.rows(
                """
                SELECT * FROM c2d_feedback WHERE tenant_id = \(tenantID.rawValue) AND sequence > \(afterSequence)
                ORDER BY sequence LIMIT \(limit)
                """
            ).map(DeviceStateRows.feedback)
        }
    }

    public func deleteFeedback(recordedBefore before: Int64, limit: Int) async throws -> Int {
        try await deleteOldest(from: "c2d_feedback", by: "recorded_at", before: before, limit: limit)
    }
}

extension PostgreSQLDatabase: TwinStore {
    public func loadTwins() async throws -> [DeviceTwin] {
        try await read { connection in try await connection.rows("SELECT * FROM device_twins").map(DeviceStateRows.twin)
        }
    }
}
