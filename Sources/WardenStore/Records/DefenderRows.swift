import Foundation
import WardenCore

/// Rows of the Defender's tables (and its reading of the audit log) as domain values, for both engines.
enum DefenderRows {
    static func ban(_ row: some StoreRow) throws -> Ban {
        Ban(
            id: try row.value("id"), subject: try Ban.Subject(kind: row.value("kind"), value: row.value("value")),
            reason: try row.value("reason"), createdAt: try row.value("created_at"),
            expiresAt: try row.value("expires_at"), createdBy: try row.value("created_by"),
            alertID: try row.value("alert_id"))
    }

    static func alert(_ row: some StoreRow) throws -> Alert {
        guard let severity = Alert.Severity(rawValue: try row.value("severity")),
            let status = Alert.Status(rawValue: try row.value("status"))
        else {
            throw WardenError(.storeUnusable, "An alert's severity or status is unknown.")
        }
        return Alert(
            id: try row.value("id"), tenantID: try (row.value("tenant_id") as String?).map { try TenantID($0) },
            rule: try row.value("rule"), severity: severity, status: status, subject: try row.value("subject"),
            summary: try row.value("summary"), count: try row.value("count"), firstSeen: try row.value("first_seen"),
            lastSeen: try row.value("last_seen"), changedBy: try row.value("changed_by"),
            changedAt: try row.value("changed_at"))
    }

    static func quarantine(_ row: some StoreRow) throws -> Quarantine {
        Quarantine(
            tenantID: try TenantID(row.value("tenant_id")), deviceID: try DeviceID(row.value("device_id")),
            level: try row.value("level"), reason: try row.value("reason"), createdAt: try row.value("created_at"),
            createdBy: try row.value("created_by"), alertID: try row.value("alert_id"))
    }

    static func rules(_ row: some StoreRow) throws -> (tenantID: TenantID, text: String) {
        (tenantID: try TenantID(row.value("tenant_id")), text: try row.value("document"))
    }

    /// A device's last connection; nil when its stored address does not parse.
    static func sighting(_ row: some StoreRow) throws -> DeviceConnection? {
        guard let address = IPAddress(try row.value("address")) else { return nil }
        return DeviceConnection(
            tenantID: try TenantID(row.value("tenant_id")), deviceID: try DeviceID(row.value("device_id")),
            peerAddress: address, protocolName: try row.value("protocol"), method: try row.value("method"),
            tlsVersion: try row.value("tls_version"), cipherSuite: try row.value("cipher_suite"),
            clientLibrary: try row.value("client_library"),
            certificateNotAfter: try row.value("certificate_not_after"), at: try row.value("at"))
    }

    /// Where `securityActivity` counts from and how wide its buckets are, in the audit log's milliseconds (a
    /// bucket is at least a second).
    static func activityWindow(since: Date, bucketSeconds: Int) -> (start: Int64, width: Int64) {
        (since.unixMilliseconds, Int64(clamping: max(bucketSeconds, 1)) &* 1_000)
    }

    /// The security activity from `start` to `now` (milliseconds): every bucket, oldest first (at most 10,000),
    /// those without records at zero. `rows` carry a bucket's index as `bucket` and its counts as `connections`,
    /// `failures`, `denials` and `alerts`; `lastBackup` is the newest `backup.made` record's time.
    static func securityActivity(
        _ rows: [some StoreRow], start: Int64, width: Int64, now: Int64, lastBackup: Int64?
    ) throws -> SecurityActivity {
        let count = Int(clamping: max(0, (now - start) / width + 1))
        // total: at most 10,000 buckets, each index an Int64 at once.
        var buckets = (0..<min(count, 10_000)).map { index in
            SecurityActivity.Bucket(start: Date(unixMilliseconds: start &+ Int64(index) &* width))
        }
        for row in rows {
            let index: Int64 = try row.value("bucket")
            guard let slot = Int(exactly: index), buckets.indices.contains(slot) else { continue }
            buckets[slot].connections = try row.value("connections") ?? 0
            buckets[slot].authenticationFailures = try row.value("failures") ?? 0
            buckets[slot].denials = try row.value("denials") ?? 0
            buckets[slot].alerts = try row.value("alerts") ?? 0
        }
        return SecurityActivity(buckets: buckets, lastBackup: lastBackup.map(Date.init(unixMilliseconds:)))
    }
}
