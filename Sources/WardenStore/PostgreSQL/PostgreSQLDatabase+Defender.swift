public import Foundation
import PostgresNIO
public import WardenCore

extension PostgreSQLDatabase: DefenderStore {
    public func addBan(_ ban: Ban) async throws {
        try await write { connection -> Void in
            try await connection.run(
                """
                INSERT INTO bans (id, kind, value, reason, created_at, expires_at, created_by, alert_id)
                VALUES (\(ban.id), \(ban.subject.kind), \(ban.subject.value), \(ban.reason), \(ban.createdAt),
                \(ban.expiresAt), \(ban.createdBy), \(ban.alertID))
                """)
        }
    }

    public func addBanUnlessInForce(_ ban: Ban) async throws -> Bool {
        // Serialisable: two nodes inserting at once conflict, and the retry finds the other's ban.
        try await write { connection in
            try await connection.run(
                """
                INSERT INTO bans (id, kind, value, reason, created_at, expires_at, created_by, alert_id)
                SELECT \(ban.id), \(ban.subject.kind), \(ban.subject.value), \(ban.reason), \(ban.createdAt),
                \(ban.expiresAt), \(ban.createdBy), \(ban.alertID) WHERE NOT EXISTS (
                    SELECT 1 FROM bans WHERE kind = \(ban.subject.kind) AND value = \(ban.subject.value)
                    AND (expires_at IS NULL OR expires_at > \(ban.createdAt)))
                """) > 0
        }
    }

    public func removeBan(_ id: String) async throws -> Ban {
        try await write { connection in
            guard let row = try await connection.rows("DELETE FROM bans WHERE id = \(id) RETURNING *").first else {
                throw WardenError(.banNotFound, "There is no ban '\(id)'.")
            }
            return try DefenderRows.ban(row)
        }
    }

    public func bans() async throws -> [Ban] {
        try await read { connection in
            try await connection.rows("SELECT * FROM bans ORDER BY created_at, id").map(DefenderRows.ban)
        }
    }

    public func removeBans(expiredBefore now: Date) async throws -> [Ban] {
        try await write { connection in
            try await connection.rows(
                "DELETE FROM bans WHERE expires_at IS NOT NULL AND expires_at <= \(now) RETURNING *"
            ).map(DefenderRows.ban)
        }
    }

    public func changeAlertStatus(_ id: String, to status: Alert.Status, by author: String, at date: Date)
        async throws -> Alert?
    {
        try await write { connection in
            try await connection.rows(
                """
                UPDATE alerts SET status = \(status.rawValue), changed_by = \(author), changed_at = \(date)
                WHERE id = \(id) AND status <> 'resolved' RETURNING *
                """
            ).first.map(DefenderRows.alert)
        }
    }

    public func alerts(status: Alert.Status?, tenantID: TenantID?, limit: Int) async throws -> [Alert] {
        let (statusText, tenant) = (status?.rawValue, tenantID?.rawValue)
        return try await read { connection in
            // The casts type the parameters when they are NULL (a bare `$1 IS NULL` gives PostgreSQL no type).
            try await connection.rows(
                """
                SELECT * FROM alerts WHERE (\(statusText)::text IS NULL OR status = \(statusText))
                AND (\(tenant)::text IS NULL OR tenant_id = \(tenant))
                ORDER BY last_seen DESC, id LIMIT \(limit)
                """
            ).map(DefenderRows.alert)
        }
    }

    public func raiseAlert(_ alert: Alert) async throws -> Alert {
        try await write { connection in
            // The conflict target names the partial unique index of migration 0032.
            let row = try await connection.rows(
                """
                INSERT INTO alerts (id, tenant_id, rule, severity, status, subject, summary, count, first_seen,
                    last_seen)
                VALUES (\(alert.id), \(alert.tenantID?.rawValue), \(alert.rule), \(alert.severity.rawValue), 'open',
                \(alert.subject), \(alert.summary), 1, \(alert.firstSeen), \(alert.lastSeen))
                ON CONFLICT (rule, subject) WHERE status <> 'resolved' DO UPDATE SET count = alerts.count + 1,
                summary = excluded.summary, last_seen = excluded.last_seen
                RETURNING *
                """
            ).first
            guard let row else { throw WardenError(.internalError, "Raising an alert returned nothing.") }
            return try DefenderRows.alert(row)
        }
    }

    public func countAlerts(status: Alert.Status) async throws -> Int {
        try await read { connection in
            try await connection.rows("SELECT count(*) AS n FROM alerts WHERE status = \(status.rawValue)")
                .first.map { try $0.value("n") as Int } ?? 0
        }
    }

    public func alert(_ id: String) async throws -> Alert? {
        try await read { connection in
            try await connection.rows("SELECT * FROM alerts WHERE id = \(id)").first.map(DefenderRows.alert)
        }
    }

    public func saveQuarantine(_ quarantine: Quarantine) async throws {
        let (tenant, device) = (quarantine.tenantID.rawValue, quarantine.deviceID.rawValue)
        try await write { connection in
            guard
                try await connection.exists(
                    "SELECT 1 FROM devices WHERE tenant_id = \(tenant) AND device_id = \(device)")
            else {
                throw WardenError(
                    .deviceNotFound, "There is no device '\(quarantine.deviceID)' in '\(quarantine.tenantID)'.")
            }
            try await connection.run(
                """
                INSERT INTO quarantines (tenant_id, device_id, level, reason, created_at, created_by, alert_id)
                VALUES (\(tenant), \(device), \(quarantine.level), \(quarantine.reason), \(quarantine.createdAt),
                \(quarantine.createdBy), \(quarantine.alertID))
                ON CONFLICT (tenant_id, device_id) DO UPDATE SET level = excluded.level, reason = excluded.reason,
                created_at = excluded.created_at, created_by = excluded.created_by, alert_id = excluded.alert_id
                """)
        }
    }

    public func removeQuarantine(_ tenantID: TenantID, _ deviceID: DeviceID) async throws -> Quarantine? {
        try await write { connection in
            try await connection.rows(
                """
                DELETE FROM quarantines WHERE tenant_id = \(tenantID.rawValue) AND device_id = \(deviceID.rawValue)
                RETURNING *
                """
            ).first.map(DefenderRows.quarantine)
        }
    }

    public func quarantines() async throws -> [Quarantine] {
        try await read { connection in
            try await connection.rows("SELECT * FROM quarantines ORDER BY tenant_id, device_id")
                .map(DefenderRows.quarantine)
        }
    }

    public func saveDefenderRules(_ document: String?, for tenantID: TenantID) async throws {
        try await write { connection in
            guard try await Self.tenantExists(connection, tenantID) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(tenantID)'.")
            }
            if let document {
                try await connection.run(
                    """
                    INSERT INTO defender_rules (tenant_id, document) VALUES (\(tenantID.rawValue), \(document))
                    ON CONFLICT (tenant_id) DO UPDATE SET document = excluded.document
                    """)
            } else {
                try await connection.run("DELETE FROM defender_rules WHERE tenant_id = \(tenantID.rawValue)")
            }
        }
    }

    public func defenderRules() async throws -> [(tenantID: TenantID, text: String)] {
        try await read { connection in
            try await connection.rows("SELECT tenant_id, document FROM defender_rules ORDER BY tenant_id")
                .map(DefenderRows.rules)
        }
    }

    /// One upsert per sighting, in one transaction, the later of a device's winning; a device deleted meanwhile
    /// has no `devices` row, so nothing is inserted for it (the foreign key would refuse it).
    public func saveSightings(_ connections: [DeviceConnection]) async throws {
        guard !connections.isEmpty else { return }
        try await write { connection in
            for sighting in connections {
                let (tenant, device) = (sighting.tenantID.rawValue, sighting.deviceID.rawValue)
                try await connection.run(
                    """
                    INSERT INTO device_sightings (tenant_id, device_id, at, address, protocol, method, tls_version,
                        cipher_suite, client_library, certificate_not_after)
                    SELECT \(tenant), \(device), \(sighting.at), \(sighting.peerAddress.description),
                    \(sighting.protocolName), \(sighting.method), \(sighting.tlsVersion), \(sighting.cipherSuite),
                    \(sighting.clientLibrary), \(sighting.certificateNotAfter)
                    WHERE EXISTS (SELECT 1 FROM devices WHERE tenant_id = \(tenant) AND device_id = \(device))
                    ON CONFLICT (tenant_id, device_id) DO UPDATE SET at = excluded.at, address = excluded.address,
                        protocol = excluded.protocol, method = excluded.method, tls_version = excluded.tls_version,
                        cipher_suite = excluded.cipher_suite, client_library = excluded.client_library,
                        certificate_not_after = excluded.certificate_not_after
                    """)
            }
        }
    }

    public func sightings(of deviceIDs: [DeviceID], in tenantID: TenantID) async throws -> [DeviceConnection] {
        guard !deviceIDs.isEmpty else { return [] }
        let ids = deviceIDs.prefix(1_000).map(\.rawValue)
        return try await read { connection in
            try await connection.rows(
                """
                SELECT * FROM device_sightings WHERE tenant_id = \(tenantID.rawValue) AND device_id = ANY(\(ids))
                ORDER BY device_id
                """
            ).compactMap(DefenderRows.sighting)
        }
    }

    public func saveAuditReport(id: String, finishedAt: Date, json: String, keeping: Int) async throws {
        try await write { connection in
            try await connection.run(
                "INSERT INTO defender_audits (id, finished_at, report) VALUES (\(id), \(finishedAt), \(json))")
            try await connection.run(
                """
                DELETE FROM defender_audits WHERE id NOT IN
                    (SELECT id FROM defender_audits ORDER BY finished_at DESC, id DESC LIMIT \(keeping))
                """)
        }
    }

    public func latestAuditReport() async throws -> String? {
        try await read { connection in
            try await connection.rows("SELECT report FROM defender_audits ORDER BY finished_at DESC, id DESC LIMIT 1")
                .first.map { try $0.value("report") as String }
        }
    }

    public func securityActivity(of tenantID: TenantID?, since: Date, bucketSeconds: Int) async throws
        -> SecurityActivity
    {
        let (start, width) = DefenderRows.activityWindow(since: since, bucketSeconds: bucketSeconds)
        let tenant = tenantID?.rawValue
        let now = clock.now().unixMilliseconds
        return try await read { connection in
            // ILIKE: SQLite's LIKE ignores ASCII case. The cast types the tenant when it is NULL.
            let rows = try await connection.rows(
                """
                SELECT (at - \(start)) / \(width) AS bucket,
                    count(*) FILTER (WHERE action = 'device.authenticate' AND outcome = 'success') AS connections,
                    count(*) FILTER (WHERE action = 'device.authenticate' AND outcome = 'denied') AS failures,
                    count(*) FILTER (
                        WHERE action ILIKE 'device.%' AND action <> 'device.authenticate' AND outcome = 'denied'
                    ) AS denials,
                    count(*) FILTER (WHERE action = 'defender.alert') AS alerts
                FROM audit_records WHERE at >= \(start) AND (\(tenant)::text IS NULL OR tenant_id = \(tenant))
                GROUP BY bucket ORDER BY bucket
                """)
            let last: Int64? = try await connection.rows(
                "SELECT max(at) AS last FROM audit_records WHERE action = 'backup.made'"
            ).first.flatMap { try $0.value("last") as Int64? }
            return try DefenderRows.securityActivity(rows, start: start, width: width, now: now, lastBackup: last)
        }
    }
}
