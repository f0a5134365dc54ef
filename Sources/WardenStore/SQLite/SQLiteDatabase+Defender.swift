public import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: DefenderStore {
    public func addBan(_ ban: Ban) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO bans (id, kind, value, reason, created_at, expires_at, created_by, alert_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    ban.id, ban.subject.kind, ban.subject.value, ban.reason, ban.createdAt, ban.expiresAt,
                    ban.createdBy, ban.alertID,
                ])
        }
    }

    public func addBanUnlessInForce(_ ban: Ban) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO bans (id, kind, value, reason, created_at, expires_at, created_by, alert_id)
                    SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE NOT EXISTS (
                        SELECT 1 FROM bans WHERE kind = ?2 AND value = ?3 AND (expires_at IS NULL OR expires_at > ?5))
                    """,
                arguments: [
                    ban.id, ban.subject.kind, ban.subject.value, ban.reason, ban.createdAt, ban.expiresAt,
                    ban.createdBy, ban.alertID,
                ])
            return db.changesCount > 0
        }
    }

    public func removeBan(_ id: String) async throws -> Ban {
        try await write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM bans WHERE id = ?", arguments: [id]) else {
                throw WardenError(.banNotFound, "There is no ban '\(id)'.")
            }
            try db.execute(sql: "DELETE FROM bans WHERE id = ?", arguments: [id])
            return try DefenderRows.ban(row)
        }
    }

    public func bans() async throws -> [Ban] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM bans ORDER BY created_at, id").map(DefenderRows.ban)
        }
    }

    public func removeBans(expiredBefore now: Date) async throws -> [Ban] {
        try await write { db in
            let expired = try Row.fetchAll(
                db, sql: "SELECT * FROM bans WHERE expires_at IS NOT NULL AND expires_at <= ?", arguments: [now]
            ).map(DefenderRows.ban)
            try db.execute(
                sql: "DELETE FROM bans WHERE expires_at IS NOT NULL AND expires_at <= ?", arguments: [now])
            return expired
        }
    }

    public func changeAlertStatus(_ id: String, to status: Alert.Status, by author: String, at date: Date)
        async throws -> Alert?
    {
        try await write { db in
            try Row.fetchOne(
                db,
                sql: """
                    UPDATE alerts SET status = ?, changed_by = ?, changed_at = ? WHERE id = ? AND status <> 'resolved'
                    RETURNING *
                    """,
                arguments: [status.rawValue, author, date, id]
            ).map(DefenderRows.alert)
        }
    }

    public func alerts(status: Alert.Status?, tenantID: TenantID?, limit: Int) async throws -> [Alert] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM alerts WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR tenant_id = ?2)
                    ORDER BY last_seen DESC, id LIMIT ?3
                    """,
                arguments: [status?.rawValue, tenantID?.rawValue, limit]
            ).map(DefenderRows.alert)
        }
    }

    public func raiseAlert(_ alert: Alert) async throws -> Alert {
        try await write { db in
            // The conflict target names the partial unique index of migration 0032.
            let row = try Row.fetchOne(
                db,
                sql: """
                    INSERT INTO alerts (id, tenant_id, rule, severity, status, subject, summary, count, first_seen,
                        last_seen) VALUES (?, ?, ?, ?, 'open', ?, ?, 1, ?, ?)
                    ON CONFLICT (rule, subject) WHERE status <> 'resolved' DO UPDATE SET count = count + 1,
                    summary = excluded.summary, last_seen = excluded.last_seen
                    RETURNING *
                    """,
                arguments: [
                    alert.id, alert.tenantID?.rawValue, alert.rule, alert.severity.rawValue, alert.subject,
                    alert.summary, alert.firstSeen, alert.lastSeen,
                ])
            guard let row else { throw WardenError(.internalError, "Raising an alert returned nothing.") }
            return try DefenderRows.alert(row)
        }
    }

    public func countAlerts(status: Alert.Status) async throws -> Int {
        try await read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM alerts WHERE status = ?", arguments: [status.rawValue]) ?? 0
        }
    }

    public func alert(_ id: String) async throws -> Alert? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM alerts WHERE id = ?", arguments: [id]).map(DefenderRows.alert)
        }
    }

    public func saveQuarantine(_ quarantine: Quarantine) async throws {
        try await write { db in
            guard
                try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM devices WHERE tenant_id = ? AND device_id = ?)",
                    arguments: [quarantine.tenantID.rawValue, quarantine.deviceID.rawValue]) == true
            else {
                throw WardenError(
                    .deviceNotFound, "There is no device '\(quarantine.deviceID)' in '\(quarantine.tenantID)'.")
            }
            try db.execute(
                sql: """
                    INSERT INTO quarantines (tenant_id, device_id, level, reason, created_at, created_by, alert_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, device_id) DO UPDATE SET
                    level = excluded.level, reason = excluded.reason, created_at = excluded.created_at,
                    created_by = excluded.created_by, alert_id = excluded.alert_id
                    """,
                arguments: [
                    quarantine.tenantID.rawValue, quarantine.deviceID.rawValue, quarantine.level, quarantine.reason,
                    quarantine.createdAt, quarantine.createdBy, quarantine.alertID,
                ])
        }
    }

    public func removeQuarantine(_ tenantID: TenantID, _ deviceID: DeviceID) async throws -> Quarantine? {
        try await write { db in
            let row = try Row.fetchOne(
                db, sql: "SELECT * FROM quarantines WHERE tenant_id = ? AND device_id = ?",
                arguments: [tenantID.rawValue, deviceID.rawValue])
            try db.execute(
                sql: "DELETE FROM quarantines WHERE tenant_id = ? AND device_id = ?",
                arguments: [tenantID.rawValue, deviceID.rawValue])
            return try row.map(DefenderRows.quarantine)
        }
    }

    public func quarantines() async throws -> [Quarantine] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM quarantines ORDER BY tenant_id, device_id")
                .map(DefenderRows.quarantine)
        }
    }

    public func saveDefenderRules(_ document: String?, for tenantID: TenantID) async throws {
        try await write { db in
            guard
                try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM tenants WHERE id = ?)", arguments: [tenantID.rawValue])
                    == true
            else { throw WardenError(.tenantNotFound, "There is no tenant '\(tenantID)'.") }
            if let document {
                try db.execute(
                    sql: """
                        INSERT INTO defender_rules (tenant_id, document) VALUES (?, ?)
                        ON CONFLICT (tenant_id) DO UPDATE SET document = excluded.document
                        """,
                    arguments: [tenantID.rawValue, document])
            } else {
                try db.execute(sql: "DELETE FROM defender_rules WHERE tenant_id = ?", arguments: [tenantID.rawValue])
            }
        }
    }

    public func defenderRules() async throws -> [(tenantID: TenantID, text: String)] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT tenant_id, document FROM defender_rules ORDER BY tenant_id")
                .map(DefenderRows.rules)
        }
    }

    public func saveSightings(_ connections: [DeviceConnection]) async throws {
        guard !connections.isEmpty else { return }
        try await write { db in
            // One statement prepared for the whole batch: a reconnect storm saves thousands at once.
            let upsert = try db.makeStatement(
                sql: """
                        INSERT INTO device_sightings (tenant_id, device_id, at, address, protocol, method, tls_version,
                            cipher_suite, client_library, certificate_not_after)
                        SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
                        WHERE EXISTS (SELECT 1 FROM devices WHERE tenant_id = ?1 AND device_id = ?2)
                        ON CONFLICT (tenant_id, device_id) DO UPDATE SET at = excluded.at, address = excluded.address,
                            protocol = excluded.protocol, method = excluded.method, tls_version = excluded.tls_version,
                            cipher_suite = excluded.cipher_suite, client_library = excluded.client_library,
                            certificate_not_after = excluded.certificate_not_after
                    """)
            for connection in connections {
                try upsert.execute(
                    arguments: [
                        connection.tenantID.rawValue, connection.deviceID.rawValue, connection.at,
                        connection.peerAddress.description, connection.protocolName, connection.method,
                        connection.tlsVersion, connection.cipherSuite, connection.clientLibrary,
                        connection.certificateNotAfter,
                    ])
            }
        }
    }

    public func sightings(of deviceIDs: [DeviceID], in tenantID: TenantID) async throws -> [DeviceConnection] {
        guard !deviceIDs.isEmpty else { return [] }
        let ids = deviceIDs.prefix(1_000).map(\.rawValue)
        return try await read { db in
            // total: one placeholder per id, a count that is never negative.
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM device_sightings WHERE tenant_id = ? AND device_id IN ("
                    + Array(repeating: "?", count: ids.count).joined(separator: ", ") + ") ORDER BY device_id",
                arguments: StatementArguments([tenantID.rawValue] + ids)
            ).compactMap(DefenderRows.sighting)
        }
    }

    public func saveAuditReport(id: String, finishedAt: Date, json: String, keeping: Int) async throws {
        try await write { db in
            try db.execute(
                sql: "INSERT INTO defender_audits (id, finished_at, report) VALUES (?, ?, ?)",
                arguments: [id, finishedAt, json])
            try db.execute(
                sql: """
                    DELETE FROM defender_audits WHERE id NOT IN
                        (SELECT id FROM defender_audits ORDER BY finished_at DESC, id DESC LIMIT ?)
                    """,
                arguments: [keeping])
        }
    }

    public func latestAuditReport() async throws -> String? {
        try await read { db in
            try String.fetchOne(
                db, sql: "SELECT report FROM defender_audits ORDER BY finished_at DESC, id DESC LIMIT 1")
        }
    }

    public func securityActivity(of tenantID: TenantID?, since: Date, bucketSeconds: Int) async throws
        -> SecurityActivity
    {
        let (start, width) = DefenderRows.activityWindow(since: since, bucketSeconds: bucketSeconds)
        let tenant = tenantID?.rawValue
        let now = clock.now().unixMilliseconds
        return try await read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT (at - ?1) / ?2 AS bucket,
                        SUM(action = 'device.authenticate' AND outcome = 'success') AS connections,
                        SUM(action = 'device.authenticate' AND outcome = 'denied') AS failures,
                        SUM(action LIKE 'device.%' AND action <> 'device.authenticate' AND outcome = 'denied') AS denials,
                        SUM(action = 'defender.alert') AS alerts
                    FROM audit_records WHERE at >= ?1 AND (?3 IS NULL OR tenant_id = ?3)
                    GROUP BY bucket ORDER BY bucket
                    """,
                arguments: [start, width, tenant])
            let last = try Int64.fetchOne(
                db, sql: "SELECT MAX(at) FROM audit_records WHERE action = 'backup.made'")
            return try DefenderRows.securityActivity(rows, start: start, width: width, now: now, lastBackup: last)
        }
    }
}
