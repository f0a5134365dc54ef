import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: DeviceStateStore {
    public func apply(_ changes: [DeviceStateChange]) async throws {
        let changes = DeviceStateChange.withoutSuperseded(changes)
        guard !changes.isEmpty else { return }
        try await write { db in try Self.apply(changes, db) }
    }

    public func apply(_ changes: [DeviceStateChange], fencedTo node: String) async throws -> Set<StoredSessionKey> {
        let changes = DeviceStateChange.withoutSuperseded(changes)
        let checked = DeviceStateChange.sessionsToFence(changes)
        guard !changes.isEmpty else { return [] }
        return try await write { db in
            var held: [StoredSessionKey: String?] = [:]
            for key in checked {
                let row = try Row.fetchOne(
                    db, sql: "SELECT node FROM mqtt_sessions WHERE tenant_id = ? AND client_id = ?",
                    arguments: [key.tenantID.rawValue, key.clientID])
                if let row { held[key] = .some(try row.decode(forColumn: "node")) }
            }
            let fenced = checked.filter { held[$0] != .some(node) }
            try Self.apply(DeviceStateChange.without(fenced, changes), db)
            return fenced.filter { held[$0] != nil }
        }
    }

    public func loadMQTTState() async throws -> MQTTStateSnapshot {
        try await read { db in
            var snapshot = MQTTStateSnapshot()
            snapshot.sessions = try Row.fetchAll(db, sql: "SELECT * FROM mqtt_sessions").map(DeviceStateRows.session)
            snapshot.subscriptions = try Row.fetchAll(db, sql: "SELECT * FROM mqtt_subscriptions")
                .map(DeviceStateRows.subscription)
            snapshot.messages = try Row.fetchAll(
                db, sql: "SELECT * FROM mqtt_session_messages ORDER BY tenant_id, client_id, sequence"
            ).map(DeviceStateRows.message)
            snapshot.retained = try Row.fetchAll(db, sql: "SELECT * FROM mqtt_retained").map(DeviceStateRows.retained)
            return snapshot
        }
    }

    public func loadRetainedMessages() async throws -> [StoredRetained] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM mqtt_retained").map(DeviceStateRows.retained)
        }
    }

    public func loadMQTTSession(tenantID: TenantID, clientID: String) async throws -> MQTTStateSnapshot {
        try await read { db in
            let key: StatementArguments = [tenantID.rawValue, clientID]
            var snapshot = MQTTStateSnapshot()
            snapshot.sessions = try Row.fetchAll(
                db, sql: "SELECT * FROM mqtt_sessions WHERE tenant_id = ? AND client_id = ?", arguments: key
            ).map(DeviceStateRows.session)
            guard !snapshot.sessions.isEmpty else { return snapshot }
            snapshot.subscriptions = try Row.fetchAll(
                db, sql: "SELECT * FROM mqtt_subscriptions WHERE tenant_id = ? AND client_id = ?", arguments: key
            ).map(DeviceStateRows.subscription)
            snapshot.messages = try Row.fetchAll(
                db,
                sql: "SELECT * FROM mqtt_session_messages WHERE tenant_id = ? AND client_id = ? ORDER BY sequence",
                arguments: key
            ).map(DeviceStateRows.message)
            return snapshot
        }
    }

    /// Applies `changes` in order; a run of telemetry goes in as few statements as it can.
    private static func apply(_ changes: [DeviceStateChange], _ db: Database) throws {
        var telemetry: [TelemetryMessage] = []
        for change in changes {
            if case .appendTelemetry(let message) = change {
                telemetry.append(message)
                continue
            }
            try appendTelemetry(telemetry, db)
            telemetry.removeAll(keepingCapacity: true)
            try apply(change, db)
        }
        try appendTelemetry(telemetry, db)
    }

    private static func apply(_ change: DeviceStateChange, _ db: Database) throws {
        switch change {
        case .putSession(let session):
            // total: widens unsigned values to SQLite's Int64.
            try db.executeCached(
                sql: """
                    INSERT INTO mqtt_sessions (tenant_id, client_id, expiry_interval, disconnected_at, node)
                    VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (tenant_id, client_id) DO UPDATE
                    SET expiry_interval = excluded.expiry_interval, disconnected_at = excluded.disconnected_at,
                        node = excluded.node
                    """,
                arguments: [
                    session.tenantID.rawValue, session.clientID, Int64(session.expiryInterval),
                    session.disconnectedAt?.timeIntervalSince1970, session.node,
                ])
        case .deleteSession(let tenantID, let clientID):
            try db.executeCached(
                sql: "DELETE FROM mqtt_sessions WHERE tenant_id = ? AND client_id = ?",
                arguments: [tenantID.rawValue, clientID])
        case .putSubscription(let subscription):
            // total: widens unsigned values to SQLite's Int64.
            try db.executeCached(
                sql: """
                    INSERT OR REPLACE INTO mqtt_subscriptions (tenant_id, client_id, filter, options, identifier)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [
                    subscription.tenantID.rawValue, subscription.clientID, subscription.filter,
                    Int64(subscription.options), subscription.identifier,
                ])
        case .deleteSubscription(let tenantID, let clientID, let filter):
            try db.executeCached(
                sql: "DELETE FROM mqtt_subscriptions WHERE tenant_id = ? AND client_id = ? AND filter = ?",
                arguments: [tenantID.rawValue, clientID, filter])
        case .putMessage(let stored):
            // total: widens unsigned values to SQLite's Int64.
            try db.executeCached(
                sql: """
                    INSERT OR REPLACE INTO mqtt_session_messages (tenant_id, client_id, sequence, topic, payload, qos,
                        properties, expires_at, delivery_qos, retain, subscription_identifiers, packet_id, phase)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    stored.tenantID.rawValue, stored.clientID, stored.sequence, stored.message.topic,
                    Data(stored.message.payload) as Data, Int64(stored.message.qos),
                    Data(stored.message.properties) as Data,
                    stored.message.expiresAt?.timeIntervalSince1970, Int64(stored.deliveryQoS), stored.retain,
                    DeviceStateRows.identifiersText(stored.subscriptionIdentifiers),
                    stored.packetID.map { Int64($0) }, Int64(stored.phase),
                ])
        case .updateMessage(let tenantID, let clientID, let sequence, let packetID, let phase):
            // total: widens unsigned values to SQLite's Int64.
            try db.executeCached(
                sql: """
                    UPDATE mqtt_session_messages SET packet_id = ?, phase = ?
                    WHERE tenant_id = ? AND client_id = ? AND sequence = ?
                    """,
                arguments: [packetID.map { Int64($0) }, Int64(phase), tenantID.rawValue, clientID, sequence])
        case .deleteMessage(let tenantID, let clientID, let sequence):
            try db.executeCached(
                sql: "DELETE FROM mqtt_session_messages WHERE tenant_id = ? AND client_id = ? AND sequence = ?",
                arguments: [tenantID.rawValue, clientID, sequence])
        case .putRetained(let retained):
            // total: widens unsigned values to SQLite's Int64.
            try db.executeCached(
                sql: """
                    INSERT INTO mqtt_retained
                        (tenant_id, topic, payload, qos, properties, expires_at, stamp_time, stamp_node)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (tenant_id, topic) DO UPDATE SET payload = excluded.payload, qos = excluded.qos,
                        properties = excluded.properties, expires_at = excluded.expires_at,
                        stamp_time = excluded.stamp_time, stamp_node = excluded.stamp_node
                    WHERE (excluded.stamp_time, excluded.stamp_node)
                        > (mqtt_retained.stamp_time, mqtt_retained.stamp_node)
                    """,
                arguments: [
                    retained.tenantID.rawValue, retained.message.topic, Data(retained.message.payload) as Data,
                    Int64(retained.message.qos), Data(retained.message.properties) as Data,
                    retained.message.expiresAt?.timeIntervalSince1970, retained.stamp.time,
                    Data(retained.stamp.nodeBytes),
                ])
            if retained.isClear {
                try db.executeCached(
                    sql: "DELETE FROM mqtt_retained WHERE tenant_id = ? AND length(payload) = 0 AND stamp_time < ?",
                    arguments: [retained.tenantID.rawValue, retained.clearsExpireBefore])
            }
        case .deleteRetained(let tenantID, let topic, let stamp):
            try db.executeCached(
                sql: """
                    DELETE FROM mqtt_retained
                    WHERE tenant_id = ? AND topic = ? AND stamp_time = ? AND stamp_node = ?
                    """,
                arguments: [tenantID.rawValue, topic, stamp.time, Data(stamp.nodeBytes)])
        case .appendTelemetry(let message):
            try appendTelemetry(CollectionOfOne(message), db)
        case .putCloudToDevice(let message):
            try putCloudToDevice(message, db)
        case .updateCloudToDevice(let message):
            try db.executeCached(
                sql: "UPDATE c2d_messages SET delivery_count = ?, lock_token = ?, lock_until = ? WHERE sequence = ?",
                arguments: [
                    message.deliveryCount, message.httpsLock?.token, message.httpsLock?.until, message.sequenceNumber,
                ])
        case .lockCloudToDevice(let message, let freeAt):
            try db.executeCached(
                sql: """
                    UPDATE c2d_messages SET lock_token = ?, lock_until = ?
                    WHERE sequence = ? AND (lock_until IS NULL OR lock_until <= ?)
                    """,
                arguments: [message.httpsLock?.token, message.httpsLock?.until, message.sequenceNumber, freeAt])
        case .deleteCloudToDevice(let sequence):
            try db.executeCached(sql: "DELETE FROM c2d_messages WHERE sequence = ?", arguments: [sequence])
        case .settleCloudToDevice(let sequence, let feedback):
            try db.executeCached(sql: "DELETE FROM c2d_messages WHERE sequence = ?", arguments: [sequence])
            if db.changesCount > 0 { try appendFeedback(feedback, db) }
        case .putTwin(let twin, let section):
            try putTwin(twin, section, db)
        case .deleteTwin(let tenantID, let deviceID):
            try db.executeCached(
                sql: "DELETE FROM device_twins WHERE tenant_id = ? AND device_id = ?",
                arguments: [tenantID.rawValue, deviceID.rawValue])
        }
    }
}

extension Database {
    /// Runs `sql` with a statement prepared once per connection. The device state changes run thousands of times a
    /// second; preparing each (and GRDB's authorizer walking it) took a fifth of the server under persistent
    /// sessions' traffic (BENCHMARKS.md, "Durable against durable").
    func executeCached(sql: String, arguments: StatementArguments) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}
