import Foundation
import Testing
import WardenCore
import WardenStore

struct SQLiteDatabaseTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    private func device(_ id: String, keys: SASKeyPair = .random()) throws -> Device {
        Device(
            tenantID: .defaultTenant, id: try DeviceID(id), generationID: "g1", etag: "e1", status: .enabled,
            statusReason: nil, statusUpdatedAt: now, authentication: .sas(keys), attributes: ["model": "m1"],
            createdAt: now, updatedAt: now)
    }

    private func makeTenant(_ store: SQLiteDatabase) async throws {
        _ = try await store.createTenant(Tenant(id: .defaultTenant, hostName: .localhost, createdAt: now), etag: "t")
    }

    @Test func appliesEveryMigrationInOrder() async throws {
        let temporary = try TemporaryDatabase()
        #expect(
            try await temporary.database.appliedMigrations() == [
                "0001-create-tenants", "0002-create-devices", "0003-create-groups",
                "0004-create-shared-access-policies", "0005-create-mqtt-state", "0006-create-certificate-authorities",
                "0007-create-telemetry", "0008-create-cloud-to-device", "0009-create-twins", "0010-create-access",
                "0011-create-audit", "0012-create-authorization-policies", "0013-index-audit-references",
                "0014-create-issued-certificates", "0015-create-revocation-lists",
                "0016-create-provisioning", "0017-add-certificate-attestation",
                "0018-add-token-keys", "0019-create-data-keys", "0020-add-allocation",
                "0021-add-ocsp-checks", "0022-create-defender", "0023-defender-rules-and-inventory",
            ])
    }

    @Test func devicesSurviveReopenWithTheirKeys() async throws {
        let temporary = try TemporaryDatabase()
        try await makeTenant(temporary.database)
        let keys = SASKeyPair.random()
        _ = try await temporary.database.createDevice(try device("dev-1", keys: keys))
        let reopened = try temporary.reopen()
        let loaded = try #require(try await reopened.device(.defaultTenant, try DeviceID("dev-1")))
        guard case .sas(let loadedKeys) = loaded.authentication else {
            Issue.record("not SAS")
            return
        }
        #expect(loadedKeys.primary.bytes == keys.primary.bytes)
        #expect(loadedKeys.secondary.bytes == keys.secondary.bytes)
        #expect(loaded.attributes == ["model": "m1"])
    }

    @Test func databaseFileHoldsNoPlaintextKey() async throws {
        let temporary = try TemporaryDatabase()
        try await makeTenant(temporary.database)
        let keys = SASKeyPair.random()
        _ = try await temporary.database.createDevice(try device("dev-1", keys: keys))
        var bytes = Data()
        for suffix in ["", "-wal"] {
            bytes += FileManager.default.contents(atPath: temporary.path + suffix) ?? Data()
        }
        #expect(!bytes.isEmpty)
        for key in [keys.primary, keys.secondary] {
            #expect(bytes.range(of: Data(key.bytes)) == nil)
            #expect(bytes.range(of: Data(key.base64.utf8)) == nil)
        }
    }

    @Test func duplicateDeviceIsRefused() async throws {
        let temporary = try TemporaryDatabase()
        try await makeTenant(temporary.database)
        _ = try await temporary.database.createDevice(try device("dev-1"))
        await #expect(throws: WardenError(.deviceAlreadyExists, "")) {
            try await temporary.database.createDevice(try device("dev-1"))
        }
    }

    @Test func pagesFollowTheCursor() async throws {
        let temporary = try TemporaryDatabase()
        try await makeTenant(temporary.database)
        for index in 0..<5 { _ = try await temporary.database.createDevice(try device("d\(index)")) }
        let first = try await temporary.database.devices(.defaultTenant, after: nil, limit: 2)
        #expect(first.items.map(\.id.rawValue) == ["d0", "d1"])
        let second = try await temporary.database.devices(.defaultTenant, after: first.nextCursor, limit: 2)
        #expect(second.items.map(\.id.rawValue) == ["d2", "d3"])
        let last = try await temporary.database.devices(.defaultTenant, after: second.nextCursor, limit: 2)
        #expect(last.items.map(\.id.rawValue) == ["d4"])
        #expect(last.nextCursor == nil)
    }

    @Test func tenantWithDevicesCannotBeDeleted() async throws {
        let temporary = try TemporaryDatabase()
        try await makeTenant(temporary.database)
        _ = try await temporary.database.createDevice(try device("d"))
        await #expect(throws: WardenError(.tenantNotEmpty, "")) {
            try await temporary.database.deleteTenant(.defaultTenant)
        }
    }

    @Test func deletingADeviceRemovesItsMemberships() async throws {
        let temporary = try TemporaryDatabase()
        try await makeTenant(temporary.database)
        _ = try await temporary.database.createDevice(try device("d"))
        let name = try GroupName("g")
        _ = try await temporary.database.createGroup(
            DeviceGroup(
                tenantID: .defaultTenant, name: name, description: "", members: [try DeviceID("d")], createdAt: now))
        try await temporary.database.deleteDevice(.defaultTenant, try DeviceID("d"))
        #expect(try await temporary.database.group(.defaultTenant, name)?.members == [])
    }
}
