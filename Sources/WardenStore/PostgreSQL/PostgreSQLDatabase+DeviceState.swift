import Foundation
import NIOCore
import PostgresNIO
public import WardenCore

extension PostgreSQLDatabase: DeviceStateStore {
    /// Each round trip to the server costs more than the statement, so consecutive changes of the kinds the
    /// device path makes most (telemetry, session messages queued, sent and acknowledged) go as one statement
    /// per run, their columns bound as arrays (`unnest`): a handful of parameters, however long the run. The
    /// rest, and single changes, go one statement each. Runs keep the batch's order.
    public func apply(_ changes: [DeviceStateChange]) async throws {
        let changes = Self.groupedByKind(DeviceStateChange.withoutSuperseded(changes))
        guard !changes.isEmpty else { return }
        try await write { connection in try await Self.apply(changes, connection) }
    }

    /// One query locks the rows of the sessions to check (in key order, so that two nodes' batches do not
    /// deadlock) and finds those that name `node`.
    public func apply(_ changes: [DeviceStateChange], fencedTo node: String) async throws -> Set<StoredSessionKey> {
        let changes = DeviceStateChange.withoutSuperseded(changes)
        let checked = Array(DeviceStateChange.sessionsToFence(changes))
        guard !changes.isEmpty else { return [] }
        return try await write { connection in
            var fenced = Set<StoredSessionKey>()
            var elsewhere = Set<StoredSessionKey>()
            if !checked.isEmpty {
                let rows = try await connection.rows(
                    """
                    SELECT tenant_id, client_id, node FROM mqtt_sessions
                    WHERE (tenant_id, client_id) IN (SELECT * FROM unnest(\(checked.map(\.tenantID.rawValue))::text[],
                    \(checked.map(\.clientID))::text[]))
                    ORDER BY tenant_id, client_id FOR UPDATE
                    """
                )
                var held = Set<StoredSessionKey>()
                for row in rows {
                    let key = StoredSessionKey(
                        tenantID: try TenantID(row.value("tenant_id")), clientID: try row.value("client_id"))
                    let holder: String? = try row.value("node")
                    if holder == node { held.insert(key) } else { elsewhere.insert(key) }
                }
                fenced = Set(checked).subtracting(held)
            }
            try await Self.apply(Self.groupedByKind(DeviceStateChange.without(fenced, changes)), connection)
            return elsewhere
        }
    }

    /// Applies `changes` (grouped) on `connection`, runs of one kind as one statement.
    private static func apply(_ changes: [DeviceStateChange], _ connection: PostgresConnection) async throws {
        var start = changes.startIndex
        while start < changes.endIndex {
            let kind = Run(changes[start])
            var end = start + 1
            while end < changes.endIndex, kind != nil, Run(changes[end]) == kind { end += 1 }
            if let kind, end - start > 1 {
                try await Self.apply(kind, changes[start..<end], connection)
            } else {
                for change in changes[start..<end] { try await Self.apply(change, connection) }
            }
            start = end
        }
    }

    /// A batch of only telemetry and session-message changes with their kinds gathered (telemetry, puts,
    /// updates, deletes), when that ends the same as the batch's order: the device path interleaves them (one
    /// client's message queued, another's acknowledged), which would leave runs of one. Changes of different
    /// messages commute; where one message's changes would change order (an update before its put, a put or
    /// update after its delete), the batch keeps its order, as it does with any other kind of change.
    static func groupedByKind(_ changes: [DeviceStateChange]) -> [DeviceStateChange] {
        var runs: [Run: [DeviceStateChange]] = [:]
        // What a later change of the same message must not follow once reordered: puts go first, then updates,
        // then deletes.
        var updated = Set<MessageKey>()
        var deleted = Set<MessageKey>()
        for change in changes {
            guard let run = Run(change) else { return changes }
            switch change {
            case .putMessage(let stored):
                let key = MessageKey(tenantID: stored.tenantID, clientID: stored.clientID, sequence: stored.sequence)
                if updated.contains(key) || deleted.contains(key) { return changes }
            case .updateMessage(let tenantID, let clientID, let sequence, _, _):
                let key = MessageKey(tenantID: tenantID, clientID: clientID, sequence: sequence)
                if deleted.contains(key) { return changes }
                updated.insert(key)
            case .deleteMessage(let tenantID, let clientID, let sequence):
                deleted.insert(MessageKey(tenantID: tenantID, clientID: clientID, sequence: sequence))
            default:
                break
            }
            runs[run, default: []].append(change)
        }
        return Run.allCases.flatMap { runs[$0] ?? [] }
    }

    /// The changes that go as one statement per run, in the order `groupedByKind` gathers them.
    private enum Run: CaseIterable {
        case telemetry, putMessage, updateMessage, deleteMessage

        init?(_ change: DeviceStateChange) {
            switch change {
            case .appendTelemetry: self = .telemetry
            case .putMessage: self = .putMessage
            case .updateMessage: self = .updateMessage
            case .deleteMessage: self = .deleteMessage
            default: return nil
            }
        }
    }

    // total: every Int64(…) below widens an unsigned value.
    private static func apply(
        _ run: Run, _ changes: ArraySlice<DeviceStateChange>, _ connection: PostgresConnection
    ) async throws {
        switch run {
        case .telemetry:
            // Seven arrays rather than seven parameters a row: the server parses and binds a handful of values.
            let messages = changes.compactMap { if case .appendTelemetry(let message) = $0 { message } else { nil } }
            try await connection.run(
                """
                INSERT INTO telemetry (sequence, tenant_id, device_id, enqueued_at, auth_method, properties, body)
                SELECT * FROM unnest(\(messages.map(\.sequenceNumber))::bigint[],
                \(messages.map(\.tenantID.rawValue))::text[], \(messages.map(\.deviceID.rawValue))::text[],
                \(messages.map(\.enqueuedAtMilliseconds))::bigint[], \(messages.map(\.authMethod.rawValue))::text[],
                \(messages.map(\.properties))::text[], \(messages.map { ByteBuffer(bytes: $0.body) })::bytea[])
                """)
        case .putMessage:
            // Last one wins, as one statement per change would leave it (one statement may not touch a row twice).
            let messages = Self.lastPerKey(
                changes.compactMap { if case .putMessage(let stored) = $0 { stored } else { nil } }
            ) { MessageKey(tenantID: $0.tenantID, clientID: $0.clientID, sequence: $0.sequence) }
            // Arrays hold no NULL here: NaN stands for no expiry and -1 for no packet id.
            // total: widens unsigned values to Int64.
            try await connection.run(
                """
                INSERT INTO mqtt_session_messages (tenant_id, client_id, sequence, topic, payload, qos, properties,
                    expires_at, delivery_qos, retain, subscription_identifiers, packet_id, phase)
                SELECT t, c, s, topic, payload, qos, properties, NULLIF(e, 'NaN'), dq, r, ids, NULLIF(p, -1), phase
                FROM unnest(\(messages.map(\.tenantID.rawValue))::text[], \(messages.map(\.clientID))::text[],
                \(messages.map(\.sequence))::bigint[], \(messages.map(\.message.topic))::text[],
                \(messages.map { ByteBuffer(bytes: $0.message.payload) })::bytea[],
                \(messages.map { Int64($0.message.qos) })::bigint[],
                \(messages.map { ByteBuffer(bytes: $0.message.properties) })::bytea[],
                \(messages.map { $0.message.expiresAt?.timeIntervalSince1970 ?? .nan })::float8[],
                \(messages.map { Int64($0.deliveryQoS) })::bigint[], \(messages.map(\.retain))::boolean[],
                \(messages.map { DeviceStateRows.identifiersText($0.subscriptionIdentifiers) })::text[],
                \(messages.map { $0.packetID.map { Int64($0) } ?? -1 })::bigint[],
                \(messages.map { Int64($0.phase) })::bigint[])
                AS v (t, c, s, topic, payload, qos, properties, e, dq, r, ids, p, phase)
                ON CONFLICT (tenant_id, client_id, sequence) DO UPDATE SET topic = excluded.topic,
                payload = excluded.payload, qos = excluded.qos, properties = excluded.properties,
                expires_at = excluded.expires_at, delivery_qos = excluded.delivery_qos, retain = excluded.retain,
                subscription_identifiers = excluded.subscription_identifiers, packet_id = excluded.packet_id,
                phase = excluded.phase
                """)
        case .updateMessage:
            let updates = Self.lastPerKey(
                changes.compactMap {
                    if case .updateMessage(let tenantID, let clientID, let sequence, let packetID, let phase) = $0 {
                        (key: MessageKey(tenantID: tenantID, clientID: clientID, sequence: sequence), packetID, phase)
                    } else {
                        nil
                    }
                }
            ) { $0.key }
            // total: widens unsigned values to Int64.
            try await connection.run(
                """
                UPDATE mqtt_session_messages AS m SET packet_id = NULLIF(v.p, -1), phase = v.phase
                FROM unnest(\(updates.map(\.key.tenantID.rawValue))::text[], \(updates.map(\.key.clientID))::text[],
                \(updates.map(\.key.sequence))::bigint[], \(updates.map { $0.1.map { Int64($0) } ?? -1 })::bigint[],
                \(updates.map { Int64($0.2) })::bigint[]) AS v (t, c, s, p, phase)
                WHERE m.tenant_id = v.t AND m.client_id = v.c AND m.sequence = v.s
                """)
        case .deleteMessage:
            let keys = changes.compactMap {
                if case .deleteMessage(let tenantID, let clientID, let sequence) = $0 {
                    MessageKey(tenantID: tenantID, clientID: clientID, sequence: sequence)
                } else {
                    nil
                }
            }
            try await connection.run(
                """
                DELETE FROM mqtt_session_messages AS m
                USING unnest(\(keys.map(\.tenantID.rawValue))::text[], \(keys.map(\.clientID))::text[],
                \(keys.map(\.sequence))::bigint[]) AS v (t, c, s)
                WHERE m.tenant_id = v.t AND m.client_id = v.c AND m.sequence = v.s
                """)
        }
    }

    private struct MessageKey: Hashable {
        let tenantID: TenantID
        let clientID: String
        let sequence: Int64
    }

    /// `items` with only the last of each key, in the order of those last ones.
    private static func lastPerKey<Item, Key: Hashable>(_ items: [Item], key: (Item) -> Key) -> [Item] {
        var last: [Key: Int] = [:]
        for (index, item) in items.enumerated() { last[key(item)] = index }
        return items.indices.filter { last[key(items[$0])] == $0 }.map { items[$0] }
    }

    public func loadMQTTState() async throws -> MQTTStateSnapshot {
        try await read { connection in
            var snapshot = MQTTStateSnapshot()
            snapshot.sessions = try await connection.rows("SELECT * FROM mqtt_sessions ORDER BY tenant_id, client_id")
                .map(DeviceStateRows.session)
            snapshot.subscriptions = try await connection.rows(
                "SELECT * FROM mqtt_subscriptions ORDER BY tenant_id, client_id, filter"
            )
            .map(DeviceStateRows.subscription)
            snapshot.messages = try await connection.rows(
                "SELECT * FROM mqtt_session_messages ORDER BY tenant_id, client_id, sequence"
            ).map(DeviceStateRows.message)
            snapshot.retained = try await connection.rows("SELECT * FROM mqtt_retained ORDER BY tenant_id, topic").map(
                DeviceStateRows.retained)
            return snapshot
        }
    }

    public func loadRetainedMessages() async throws -> [StoredRetained] {
        try await read { connection in
            try await connection.rows("SELECT * FROM mqtt_retained ORDER BY tenant_id, topic").map(
                DeviceStateRows.retained)
        }
    }

    public func loadMQTTSession(tenantID: TenantID, clientID: String) async throws -> MQTTStateSnapshot {
        try await read { connection in
            var snapshot = MQTTStateSnapshot()
            snapshot.sessions = try await connection.rows(
                "SELECT * FROM mqtt_sessions WHERE tenant_id = \(tenantID.rawValue) AND client_id = \(clientID)"
            ).map(DeviceStateRows.session)
            guard !snapshot.sessions.isEmpty else { return snapshot }
            snapshot.subscriptions = try await connection.rows(
                """
                SELECT * FROM mqtt_subscriptions
                WHERE tenant_id = \(tenantID.rawValue) AND client_id = \(clientID) ORDER BY filter
                """
            ).map(DeviceStateRows.subscription)
            snapshot.messages = try await connection.rows(
                """
                SELECT * FROM mqtt_session_messages
                WHERE tenant_id = \(tenantID.rawValue) AND client_id = \(clientID) ORDER BY sequence
                """
            ).map(DeviceStateRows.message)
            return snapshot
        }
    }

    // total: every Int64(…) below widens an unsigned value.
    private static func apply(_ change: DeviceStateChange, _ connection: PostgresConnection) async throws {
        switch change {
        case .putSession(let session):
            try await connection.run(
                """
                INSERT INTO mqtt_sessions (tenant_id, client_id, expiry_interval, disconnected_at, node)
                VALUES (\(session.tenantID.rawValue), \(session.clientID), \(Int64(session.expiryInterval)),
                \(session.disconnectedAt?.timeIntervalSince1970), \(session.node))
                ON CONFLICT (tenant_id, client_id) DO UPDATE
                SET expiry_interval = excluded.expiry_interval, disconnected_at = excluded.disconnected_at,
                    node = excluded.node
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
                INSERT INTO mqtt_retained (tenant_id, topic, payload, qos, properties, expires_at, stamp_time, stamp_node)
                VALUES (\(retained.tenantID.rawValue), \(retained.message.topic), \(Data(retained.message.payload)),
                \(Int64(retained.message.qos)), \(Data(retained.message.properties)),
                \(retained.message.expiresAt?.timeIntervalSince1970), \(retained.stamp.time),
                \(Data(retained.stamp.nodeBytes)))
                ON CONFLICT (tenant_id, topic) DO UPDATE SET payload = excluded.payload, qos = excluded.qos,
                properties = excluded.properties, expires_at = excluded.expires_at,
                stamp_time = excluded.stamp_time, stamp_node = excluded.stamp_node
                WHERE (excluded.stamp_time, excluded.stamp_node) > (mqtt_retained.stamp_time, mqtt_retained.stamp_node)
                """)
            if retained.isClear {
                try await connection.run(
                    """
                    DELETE FROM mqtt_retained WHERE tenant_id = \(retained.tenantID.rawValue) AND length(payload) = 0
                    AND stamp_time < \(retained.clearsExpireBefore)
                    """)
            }
        case .deleteRetained(let tenantID, let topic, let stamp):
            try await connection.run(
                """
                DELETE FROM mqtt_retained WHERE tenant_id = \(tenantID.rawValue) AND topic = \(topic)
                AND stamp_time = \(stamp.time) AND stamp_node = \(Data(stamp.nodeBytes))
                """)
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
                    ack, enqueued_at, expires_at, delivery_count, lock_token, lock_until)
                VALUES (\(message.sequenceNumber), \(message.tenantID.rawValue), \(message.deviceID.rawValue),
                \(message.messageID), \(message.correlationID), \(message.properties), \(Data(message.body)),
                \(message.acknowledgement.rawValue), \(message.enqueuedAt), \(message.expiresAt),
                \(message.deliveryCount), \(message.httpsLock?.token), \(message.httpsLock?.until))
                ON CONFLICT (sequence) DO UPDATE SET tenant_id = excluded.tenant_id, device_id = excluded.device_id,
                message_id = excluded.message_id, correlation_id = excluded.correlation_id,
                properties = excluded.properties, body = excluded.body, ack = excluded.ack,
                enqueued_at = excluded.enqueued_at, expires_at = excluded.expires_at,
                delivery_count = excluded.delivery_count, lock_token = excluded.lock_token,
                lock_until = excluded.lock_until
                """)
        case .updateCloudToDevice(let message):
            try await connection.run(
                """
                UPDATE c2d_messages SET delivery_count = \(message.deliveryCount), lock_token = \(message.httpsLock?.token),
                lock_until = \(message.httpsLock?.until) WHERE sequence = \(message.sequenceNumber)
                """)
        case .lockCloudToDevice(let message, let freeAt):
            try await connection.run(
                """
                UPDATE c2d_messages SET lock_token = \(message.httpsLock?.token), lock_until = \(message.httpsLock?.until)
                WHERE sequence = \(message.sequenceNumber) AND (lock_until IS NULL OR lock_until <= \(freeAt))
                """)
        case .deleteCloudToDevice(let sequence):
            try await connection.run("DELETE FROM c2d_messages WHERE sequence = \(sequence)")
        case .settleCloudToDevice(let sequence, let feedback):
            // One round trip: the record is inserted only if the delete removed the message.
            try await connection.run(
                """
                WITH settled AS (DELETE FROM c2d_messages WHERE sequence = \(sequence) RETURNING 1)
                INSERT INTO c2d_feedback (sequence, tenant_id, device_id, original_message_id, status, description,
                    enqueued_at, recorded_at)
                SELECT \(feedback.sequenceNumber), \(feedback.tenantID.rawValue), \(feedback.deviceID.rawValue),
                \(feedback.originalMessageID), \(feedback.status.rawValue), \(feedback.description),
                \(feedback.enqueuedAt), \(feedback.recordedAt) WHERE EXISTS (SELECT 1 FROM settled)
                """)
        case .putTwin(let twin, let section):
            try await putTwin(twin, section, on: connection)
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

    public func cloudToDeviceMessage(sequence: Int64) async throws -> CloudToDeviceMessage? {
        try await read { connection in
            try await connection.rows("SELECT * FROM c2d_messages WHERE sequence = \(sequence)").first
                .map(DeviceStateRows.cloudToDevice)
        }
    }

    public func cloudToDeviceMessage(_ tenantID: TenantID, _ deviceID: DeviceID, lockToken: String) async throws
        -> CloudToDeviceMessage?
    {
        try await read { connection in
            try await connection.rows(
                """
                SELECT * FROM c2d_messages WHERE lock_token = \(lockToken) AND tenant_id = \(tenantID.rawValue)
                AND device_id = \(deviceID.rawValue)
                """
            ).first.map(DeviceStateRows.cloudToDevice)
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
    /// A twin stored at a version above 0 is only updated: one deleted meanwhile (its device deleted) stays gone.
    public func replaceDesired(of twin: DeviceTwin, ifAt version: Int) async throws -> Bool {
        try await write { connection in
            guard version > 0 else {
                return try await Self.putTwin(twin, .desired, onlyIfNoDesired: true, on: connection) > 0
            }
            let columns = try DeviceStateRows.TwinColumns(twin)
            return try await connection.run(
                """
                UPDATE device_twins SET desired = \(columns.desired), desired_version = \(twin.desired.version),
                desired_updated = \(columns.desiredUpdated)
                WHERE tenant_id = \(twin.tenantID.rawValue) AND device_id = \(twin.deviceID.rawValue)
                AND desired_version = \(version)
                """) > 0
        }
    }

    /// Writes `section` of `twin`, inserting the row if there is none; with `onlyIfNoDesired`, updates only a row
    /// whose desired section was never set. Returns the rows written.
    @discardableResult
    static func putTwin(
        _ twin: DeviceTwin, _ section: TwinSection, onlyIfNoDesired: Bool = false, on connection: PostgresConnection
    ) async throws -> Int {
        let columns = try DeviceStateRows.TwinColumns(twin)
        var query = PostgresQuery(
            """
            INSERT INTO device_twins (tenant_id, device_id, desired, desired_version, desired_updated, reported,
                reported_version, reported_updated)
            VALUES (\(twin.tenantID.rawValue), \(twin.deviceID.rawValue), \(columns.desired),
            \(twin.desired.version), \(columns.desiredUpdated), \(columns.reported), \(twin.reported.version),
            \(columns.reportedUpdated))
            """)
        query.sql += " ON CONFLICT (tenant_id, device_id) DO UPDATE SET " + DeviceStateRows.twinSectionUpdate(section)
        if onlyIfNoDesired { query.sql += " WHERE device_twins.desired_version = 0" }
        return try await connection.run(query)
    }

    public func twin(_ tenantID: TenantID, _ deviceID: DeviceID) async throws -> DeviceTwin? {
        try await read { connection in
            try await connection.rows(
                "SELECT * FROM device_twins WHERE tenant_id = \(tenantID.rawValue) AND device_id = \(deviceID.rawValue)"
            ).first.map(DeviceStateRows.twin)
        }
    }

    public func loadTwins() async throws -> [DeviceTwin] {
        try await read { connection in
            try await connection.rows("SELECT * FROM device_twins ORDER BY tenant_id, device_id").map(
                DeviceStateRows.twin)
        }
    }
}
