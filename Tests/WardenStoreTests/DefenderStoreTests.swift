import Foundation
import GRDB
import PostgresNIO
import Testing
import WardenCore

@testable import WardenStore

/// The Defender's store (bans, alerts, quarantines, rules, the inventory's sightings, audit reports and the
/// security activity read from the audit log), against each engine (`StoreEngine`).
struct DefenderStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    private func makeTenant(_ store: any PortedStores) async throws {
        _ = try await store.createTenant(Tenant(id: .defaultTenant, hostName: .localhost, createdAt: now), etag: "t")
    }

    private func makeDevice(_ store: any PortedStores, _ id: String) async throws {
        _ = try await store.createDevice(
            Device(
                tenantID: .defaultTenant, id: try DeviceID(id), generationID: "g1", etag: "e1", status: .enabled,
                statusReason: nil, statusUpdatedAt: now, authentication: .sas(.random()), attributes: [:],
                createdAt: now, updatedAt: now))
    }

    private func alert(_ id: String, tenantID: TenantID? = .defaultTenant, subject: String = "s", lastSeen: Date)
        -> Alert
    {
        Alert(
            id: id, tenantID: tenantID, rule: "auth.failures.address", severity: .high, subject: subject,
            summary: "failures from \(subject)", firstSeen: now, lastSeen: lastSeen)
    }

    /// A device's MQTT connection; with TLS details when it presented a certificate.
    private func connection(_ device: String, at: Date, certificateNotAfter: Date? = nil) throws -> DeviceConnection {
        DeviceConnection(
            tenantID: .defaultTenant, deviceID: try DeviceID(device), peerAddress: try #require(IPAddress("192.0.2.7")),
            protocolName: "mqtt", method: "sas", tlsVersion: certificateNotAfter == nil ? nil : "1.3",
            cipherSuite: certificateNotAfter == nil ? nil : "TLS_AES_128_GCM_SHA256",
            clientLibrary: certificateNotAfter == nil ? nil : "azure-iot-device/2.0",
            certificateNotAfter: certificateNotAfter, at: at)
    }

    /// The kept audit reports' ids, oldest first: no protocol lists them.
    private func reportIDs(_ store: any PortedStores) async throws -> [String] {
        let sql = "SELECT id FROM defender_audits ORDER BY finished_at, id"
        if let database = store as? SQLiteDatabase {
            return try await database.read { db in try String.fetchAll(db, sql: sql) }
        }
        let database = try #require(store as? PostgreSQLDatabase)
        return try await database.read { connection in
            try await connection.rows(PostgresQuery(unsafeSQL: sql)).map { try $0.value("id") as String }
        }
    }

    @Test(arguments: StoreEngine.allCases) func bansSurviveReopenUntilRemovedOrExpired(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let range = Ban(
                id: "b1", subject: .address(try CIDR("192.0.2.0/24")), reason: "scanning", createdAt: now,
                expiresAt: now.addingTimeInterval(600), createdBy: "defender:auth.failures.address", alertID: "a1")
            let client = Ban(
                id: "b2", subject: .clientID("bot-1"), reason: "flapping", createdAt: now, expiresAt: nil,
                createdBy: "user:admin")
            let device = Ban(
                id: "b0", subject: .device(.defaultTenant, try DeviceID("meter-1")), reason: "stolen",
                createdAt: now.addingTimeInterval(1), expiresAt: now.addingTimeInterval(60), createdBy: "user:admin")
            for ban in [device, client, range] { try await fresh.store.addBan(ban) }

            let reopened = try await fresh.reopen()
            // Oldest first, then by id.
            #expect(try await reopened.bans() == [range, client, device])
            #expect(try await reopened.removeBan("b2") == client)
            await #expect(throws: WardenError(.banNotFound, "")) { _ = try await reopened.removeBan("b2") }
            // At or before `now`: the device's ban (60 s) but not the range's (600 s).
            let expired = try await reopened.removeBans(expiredBefore: now.addingTimeInterval(60))
            #expect(expired == [device])
            #expect(try await reopened.bans() == [range])
            #expect(try await reopened.removeBans(expiredBefore: now.addingTimeInterval(60)).isEmpty)
        }
    }

    /// An automatic ban is added unless a ban of its subject is in force then: of many nodes' rules firing on one
    /// address at once, one bans it; once that ban has expired, a new one is added.
    @Test(arguments: StoreEngine.allCases) func anAutomaticBanIsAddedOnceWhileOneIsInForce(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            let subject = Ban.Subject.address(try CIDR("192.0.2.9/32"))
            func ban(_ id: String, at created: Date) -> Ban {
                Ban(
                    id: id, subject: subject, reason: "guesses", createdAt: created,
                    expiresAt: created.addingTimeInterval(60), createdBy: "defender:auth.failures.address")
            }
            let added = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<6 {
                    group.addTask { try await store.addBanUnlessInForce(ban("n\(index)", at: self.now)) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(added == 1)
            #expect(try await store.bans().count == 1)
            // Another subject, or the same once the ban has expired, is banned.
            let other = Ban(
                id: "o1", subject: .clientID("bot-2"), reason: "flapping", createdAt: now, expiresAt: nil,
                createdBy: "defender:flapping")
            #expect(try await store.addBanUnlessInForce(other))
            #expect(try await store.addBanUnlessInForce(ban("later", at: now.addingTimeInterval(61))))
            #expect(try await store.bans().count == 3)
        }
    }

    /// Alerts are listed newest first, of a status or a tenant; a status change touches nothing else of an alert,
    /// and a resolved one stays as it is.
    @Test(arguments: StoreEngine.allCases) func alertsAreListedNewestFirstAndChangeOnlyTheirStatus(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            let first = try await store.raiseAlert(alert("a1", subject: "address 192.0.2.7", lastSeen: now + 10))
            _ = try await store.raiseAlert(alert("a2", tenantID: nil, lastSeen: now + 30))
            _ = try await store.raiseAlert(alert("a3", subject: "address 192.0.2.8", lastSeen: now + 20))
            let platform = try #require(
                try await store.changeAlertStatus("a2", to: .acknowledged, by: "user:ada", at: now + 31))
            let resolved = try #require(
                try await store.changeAlertStatus("a3", to: .resolved, by: "user:ada", at: now + 32))
            #expect(platform.status == .acknowledged && platform.changedBy == "user:ada")
            #expect(platform.changedAt == now + 31 && platform.count == 1 && platform.lastSeen == now + 30)

            let reopened = try await fresh.reopen()
            #expect(try await reopened.alerts(status: nil, tenantID: nil, limit: 10) == [platform, resolved, first])
            #expect(try await reopened.alerts(status: nil, tenantID: nil, limit: 2) == [platform, resolved])
            #expect(try await reopened.alerts(status: .open, tenantID: nil, limit: 10) == [first])
            #expect(try await reopened.alerts(status: nil, tenantID: .defaultTenant, limit: 10) == [resolved, first])
            #expect(try await reopened.alerts(status: .resolved, tenantID: .defaultTenant, limit: 10) == [resolved])
            #expect(try await reopened.alert("a2") == platform)
            #expect(try await reopened.alert("a9") == nil)
            #expect(try await reopened.countAlerts(status: .open) == 1)
            #expect(try await reopened.countAlerts(status: .acknowledged) == 1)

            // Resolved, it stays as it is; an alert that is not there changes nothing.
            #expect(try await reopened.changeAlertStatus("a3", to: .acknowledged, by: "user:bob", at: now + 40) == nil)
            #expect(try await reopened.changeAlertStatus("a3", to: .resolved, by: "user:bob", at: now + 40) == nil)
            #expect(try await reopened.alert("a3") == resolved)
            #expect(try await reopened.changeAlertStatus("a9", to: .resolved, by: "user:bob", at: now + 40) == nil)
            // Counted again (by another node) before the change: the change keeps the count.
            _ = try await reopened.raiseAlert(alert("a4", subject: "address 192.0.2.7", lastSeen: now + 41))
            let acknowledged = try #require(
                try await reopened.changeAlertStatus("a1", to: .acknowledged, by: "user:bob", at: now + 42))
            #expect(acknowledged.count == 2 && acknowledged.lastSeen == now + 41 && acknowledged.firstSeen == now)
            #expect(acknowledged.rule == first.rule && acknowledged.subject == first.subject)
            #expect(try await store.countAlerts(status: .open) == 0)
            #expect(try await store.countAlerts(status: .acknowledged) == 2)
        }
    }

    /// Raising counts into the alert not yet resolved of the rule on the subject, also when raised from many
    /// connections at once (nodes of a cluster); a resolved one is left alone and a new one opens.
    @Test(arguments: StoreEngine.allCases) func raisingCountsIntoTheOneAlertNotResolved(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            let opened = try await store.raiseAlert(alert("r1", subject: "address 192.0.2.9", lastSeen: now))
            #expect(opened.id == "r1" && opened.count == 1 && opened.status == .open)
            _ = try await store.changeAlertStatus("r1", to: .acknowledged, by: "user:ada", at: now)
            let later = now.addingTimeInterval(5)
            var again = alert("r2", subject: "address 192.0.2.9", lastSeen: later)
            again.summary = "more"
            let counted = try await store.raiseAlert(again)
            #expect(counted.id == "r1" && counted.count == 2 && counted.status == .acknowledged)
            #expect(counted.summary == "more" && counted.lastSeen == later && counted.firstSeen == opened.firstSeen)
            // Raised from many connections at once: one alert counts them all.
            try await withThrowingTaskGroup(of: Alert.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await store.raiseAlert(self.alert("c\(index)", subject: "s2", lastSeen: later))
                    }
                }
                for try await _ in group {}
            }
            let crowd = try await store.alerts(status: nil, tenantID: nil, limit: 100).filter { $0.subject == "s2" }
            #expect(crowd.count == 1 && crowd.first?.count == 8)
            // Resolved, it is left alone: the rule's next firing opens a new alert.
            _ = try await store.changeAlertStatus("r1", to: .resolved, by: "user:ada", at: later)
            let reopened = try await store.raiseAlert(alert("r3", subject: "address 192.0.2.9", lastSeen: later))
            #expect(reopened.id == "r3" && reopened.count == 1)
            #expect(try await store.alert("r1")?.count == 2)
        }
    }

    /// Duplicates an older version let in (two nodes raising at once): migration 0032 keeps the latest seen of
    /// each rule and subject open and resolves the others, then the index holds one. SQLite runs the schema up to
    /// the migration; PostgreSQL's fresh store has its index dropped for the duplicates, then runs it again.
    @Test(arguments: StoreEngine.allCases) func theMigrationResolvesAllButTheLatestOfDuplicateAlerts(
        engine: StoreEngine
    ) async throws {
        let rows: [(String, String, String, Date)] = [
            ("d1", "open", "a", now + 1), ("d2", "acknowledged", "a", now + 3), ("d3", "open", "a", now + 2),
            ("d4", "resolved", "a", now + 9), ("other", "open", "b", now + 1),
        ]
        let expected = [
            "d1 resolved warden:0032-one-open-alert-per-subject", "d2 acknowledged -",
            "d3 resolved warden:0032-one-open-alert-per-subject", "d4 resolved -", "other open -",
        ]
        let insert = """
            INSERT INTO alerts (id, rule, severity, status, subject, summary, count, first_seen, last_seen)
            VALUES (?, 'r', 'high', ?, ?, 's', 1, ?, ?)
            """
        switch engine {
        case .sqlite:
            let queue = try DatabaseQueue()
            try await queue.write { db in
                for step in StoreMigrations.all where step.identifier < Migration0032OneOpenAlertPerSubject.identifier {
                    try step.sqlite(db)
                }
                for (id, status, subject, seen) in rows {
                    try db.execute(sql: insert, arguments: [id, status, subject, now, seen])
                }
                try Migration0032OneOpenAlertPerSubject.migrate(db)
                let statuses = try Row.fetchAll(db, sql: "SELECT id, status, changed_by FROM alerts ORDER BY id").map {
                    "\($0["id"] as String) \($0["status"] as String) \(($0["changed_by"] as String?) ?? "-")"
                }
                #expect(statuses == expected)
                #expect(throws: DatabaseError.self) {
                    try db.execute(sql: insert, arguments: ["d5", "open", "a", now, now])
                }
            }
        case .postgresql:
            try await engine.withFreshStore { fresh in
                let database = try #require(fresh.store as? PostgreSQLDatabase)
                let statuses = try await database.write { connection in
                    try await connection.run("DROP INDEX alerts_unresolved")
                    for (id, status, subject, seen) in rows {
                        try await connection.run(
                            """
                            INSERT INTO alerts (id, rule, severity, status, subject, summary, count, first_seen,
                                last_seen)
                            VALUES (\(id), 'r', 'high', \(status), \(subject), 's', 1, \(now), \(seen))
                            """)
                    }
                    for statement in Migration0032OneOpenAlertPerSubject.postgres {
                        try await connection.run(PostgresQuery(unsafeSQL: statement))
                    }
                    return try await connection.rows("SELECT id, status, changed_by FROM alerts ORDER BY id").map {
                        "\(try $0.value("id") as String) \(try $0.value("status") as String) "
                            + "\((try $0.value("changed_by") as String?) ?? "-")"
                    }
                }
                #expect(statuses == expected)
                await #expect(throws: (any Error).self) {
                    try await database.write { connection in
                        try await connection.run(
                            """
                            INSERT INTO alerts (id, rule, severity, status, subject, summary, count, first_seen,
                                last_seen)
                            VALUES ('d5', 'r', 'high', 'open', 'a', 's', 1, \(now), \(now))
                            """)
                    }
                }
            }
        }
    }

    @Test(arguments: StoreEngine.allCases) func quarantinesNeedTheDeviceAndGoWithIt(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            try await makeTenant(store)
            try await makeDevice(store, "meter-1")
            try await makeDevice(store, "meter-2")
            let quarantine = { (device: String, level: String) in
                Quarantine(
                    tenantID: .defaultTenant, deviceID: try DeviceID(device), level: level, reason: "beaconing",
                    createdAt: now, createdBy: "defender:beaconing", alertID: "a1")
            }
            await #expect(throws: WardenError(.deviceNotFound, "")) {
                try await store.saveQuarantine(try quarantine("ghost", "high"))
            }
            try await store.saveQuarantine(try quarantine("meter-2", "elevated"))
            try await store.saveQuarantine(try quarantine("meter-1", "high"))
            try await store.saveQuarantine(try quarantine("meter-1", "critical"))

            let reopened = try await fresh.reopen()
            #expect(
                try await reopened.quarantines() == [
                    try quarantine("meter-1", "critical"), try quarantine("meter-2", "elevated"),
                ])
            let meter = try DeviceID("meter-1")
            #expect(try await reopened.removeQuarantine(.defaultTenant, meter) == quarantine("meter-1", "critical"))
            #expect(try await reopened.removeQuarantine(.defaultTenant, meter) == nil)
            try await reopened.deleteDevice(.defaultTenant, try DeviceID("meter-2"))
            #expect(try await reopened.quarantines().isEmpty)
        }
    }

    @Test(arguments: StoreEngine.allCases) func rulesDocumentsAreReplacedAndRemoved(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            await #expect(throws: WardenError(.tenantNotFound, "")) {
                try await store.saveDefenderRules("rules: []", for: .defaultTenant)
            }
            try await makeTenant(store)
            try await store.saveDefenderRules("rules: [a]", for: .defaultTenant)
            try await store.saveDefenderRules("rules: [b]", for: .defaultTenant)
            let rules = try await fresh.reopen().defenderRules()
            #expect(rules.map { $0.tenantID } == [.defaultTenant])
            #expect(rules.map { $0.text } == ["rules: [b]"])
            try await store.saveDefenderRules(nil, for: .defaultTenant)
            #expect(try await store.defenderRules().isEmpty)
        }
    }

    @Test(arguments: StoreEngine.allCases) func sightingsKeepTheNewestAndSkipDeletedDevices(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            try await makeTenant(store)
            try await makeDevice(store, "meter-1")
            try await makeDevice(store, "meter-2")
            let ids = try ["meter-1", "meter-2", "ghost"].map { try DeviceID($0) }
            try await store.saveSightings([])
            let older = try connection("meter-1", at: now)
            let newer = try connection(
                "meter-1", at: now.addingTimeInterval(5), certificateNotAfter: now.addingTimeInterval(86_400))
            let second = try connection("meter-2", at: now)
            // A device that does not exist (deleted since it connected) is skipped, not an error.
            try await store.saveSightings([older, second, try connection("ghost", at: now)])
            try await store.saveSightings([newer])
            #expect(try await fresh.reopen().sightings(of: ids, in: .defaultTenant) == [newer, second])

            try await store.deleteDevice(.defaultTenant, try DeviceID("meter-2"))
            let latest = try connection("meter-1", at: now.addingTimeInterval(10))
            try await store.saveSightings([try connection("meter-2", at: now.addingTimeInterval(10)), latest])
            #expect(try await store.sightings(of: ids, in: .defaultTenant) == [latest])
            #expect(try await store.sightings(of: [], in: .defaultTenant).isEmpty)
        }
    }

    @Test(arguments: StoreEngine.allCases) func auditReportsKeepTheNewest(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            #expect(try await store.latestAuditReport() == nil)
            for index in 1...4 {
                try await store.saveAuditReport(
                    id: "r\(index)", finishedAt: now.addingTimeInterval(Double(index)), json: "{\"n\":\(index)}",
                    keeping: 3)
            }
            #expect(try await reportIDs(store) == ["r2", "r3", "r4"])
            // One finished before the kept ones goes at once.
            try await store.saveAuditReport(id: "r0", finishedAt: now, json: "{\"n\":0}", keeping: 3)
            #expect(try await reportIDs(store) == ["r2", "r3", "r4"])
            #expect(try await fresh.reopen().latestAuditReport() == "{\"n\":4}")
        }
    }

    @Test(arguments: StoreEngine.allCases) func securityActivityCountsEveryBucketOldestFirst(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let hour: Int64 = 3_600_000
            // Three hours and a bit ago, to the millisecond: four buckets of an hour up to the store's clock.
            let start = Date().unixMilliseconds - 3 * hour - 1
            let other = try TenantID("other")
            let records: [(Int64, TenantID?, String, AuditRecord.Outcome)] = [
                (start - 5_000, nil, "backup.made", .success),
                (start - 9_000, nil, "backup.made", .success),
                (start - 1, .defaultTenant, "device.authenticate", .success),
                (start, .defaultTenant, "device.authenticate", .success),
                (start + 20, .defaultTenant, "device.authenticate", .denied),
                (start + 30, .defaultTenant, "device.authenticate", .failure),
                (start + hour, .defaultTenant, "device.telemetry", .denied),
                // As SQLite's LIKE, ASCII case is ignored.
                (start + hour + 1, .defaultTenant, "DEVICE.method", .denied),
                (start + hour + 2, .defaultTenant, "device.telemetry", .success),
                (start + hour + 3, .defaultTenant, "service.call", .denied),
                (start + 2 * hour + 1, nil, "defender.alert", .success),
                (start + 3 * hour, other, "device.authenticate", .success),
            ]
            try await fresh.store.appendAuditRecords(
                records.enumerated().map { index, record in
                    (
                        record: AuditRecord(
                            sequence: Int64(index + 1), at: record.0, tenant: record.1, actorKind: "device",
                            actor: "meter-1", sourceIP: "192.0.2.7", action: record.2, target: "meter-1",
                            outcome: record.3),
                        chainHash: [UInt8(index)]
                    )
                })
            let bucketStarts = (0..<4).map { Date(unixMilliseconds: start + Int64($0) * hour) }

            let tenant = try await fresh.store.securityActivity(
                of: .defaultTenant, since: Date(unixMilliseconds: start), bucketSeconds: 3_600)
            #expect(tenant.buckets.map(\.start) == bucketStarts)
            #expect(tenant.buckets.map(\.connections) == [1, 0, 0, 0])
            #expect(tenant.buckets.map(\.authenticationFailures) == [1, 0, 0, 0])
            #expect(tenant.buckets.map(\.denials) == [0, 2, 0, 0])
            #expect(tenant.buckets.map(\.alerts) == [0, 0, 0, 0])
            // The last backup is the platform's, whichever tenant asks and however far back.
            #expect(tenant.lastBackup == Date(unixMilliseconds: start - 5_000))

            let platform = try await fresh.store.securityActivity(
                of: nil, since: Date(unixMilliseconds: start), bucketSeconds: 3_600)
            #expect(platform.buckets.map(\.start) == bucketStarts)
            #expect(platform.buckets.map(\.connections) == [1, 0, 0, 1])
            #expect(platform.buckets.map(\.alerts) == [0, 0, 1, 0])
            #expect(platform.lastBackup == Date(unixMilliseconds: start - 5_000))

            // A bucket is at least a second.
            let seconds = try await fresh.store.securityActivity(
                of: other, since: Date(unixMilliseconds: start + 3 * hour - 1), bucketSeconds: 0)
            #expect(seconds.buckets.first?.start == Date(unixMilliseconds: start + 3 * hour - 1))
            #expect(seconds.buckets.first?.connections == 1)
            #expect(seconds.buckets.map(\.connections).reduce(0, +) == 1)
        }
    }
}
