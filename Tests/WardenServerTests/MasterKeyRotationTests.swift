import Foundation
import Testing
import WardenCore
import WardenSecurity
import WardenStore

@testable import WardenServer

/// `warden keys rotate-master` (issue 15, item 4): every secret re-sealed under a new key online, and a stop at
/// any point leaves a data directory that starts, opens everything and ends the rotation.
struct MasterKeyRotationTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A data directory as a server leaves it: a master key, the check value, TLS keys, a device, a data key.
    struct Fixture {
        let directory: DataDirectory
        let keys: SASKeyPair
        let dataKey: SecretBytes
        let serverKeyPEM: SecretBytes

        /// What a start-up finds on disk: the key (or both, mid-rotation), the store opened with them.
        func start() throws -> (LoadedMasterKey, SQLiteDatabase) {
            let loaded = try MasterKeyLoader.load(directory, override: nil)
            return (loaded, try SQLiteDatabase(path: directory.database, sealer: loaded.ring))
        }

        /// Everything sealed opens with what is on disk, and holds what was sealed.
        func expectIntact() async throws {
            let (loaded, database) = try start()
            let device = try #require(try await database.device(.defaultTenant, try DeviceID("meter-1")))
            guard case .sas(let opened) = device.authentication else {
                Issue.record("not SAS")
                return
            }
            #expect(opened.primary.bytes == keys.primary.bytes && opened.secondary.bytes == keys.secondary.bytes)
            #expect(try await database.dataKey("test.key", orStore: .random(count: 32)).bytes == dataKey.bytes)
            let tls = try TLSMaterial.load(
                .init(), directory: directory, hubHostName: .localhost, sealer: loaded.ring, now: Date())
            #expect(tls.privateKeyPEM.bytes == serverKeyPEM.bytes)
        }
    }

    func makeFixture() async throws -> Fixture {
        let folder = FileManager.default.temporaryDirectory.appending(path: "warden-rotate-\(UUID().uuidString)").path
        let directory = DataDirectory(path: folder)
        try directory.prepare()
        let loaded = try MasterKeyLoader.load(directory, override: nil)
        let database = try SQLiteDatabase(path: directory.database, sealer: loaded.ring)
        _ = try await database.createTenant(Tenant(id: .defaultTenant, hostName: .localhost, createdAt: now), etag: "t")
        let keys = SASKeyPair.random()
        _ = try await database.createDevice(
            Device(
                tenantID: .defaultTenant, id: try DeviceID("meter-1"), generationID: "g", etag: "e", status: .enabled,
                statusReason: nil, statusUpdatedAt: now, authentication: .sas(keys), attributes: [:], createdAt: now,
                updatedAt: now))
        let dataKey = try await database.dataKey("test.key", orStore: .random(count: 32))
        let tls = try TLSMaterial.load(
            .init(), directory: directory, hubHostName: .localhost, sealer: loaded.ring, now: Date())
        return Fixture(directory: directory, keys: keys, dataKey: dataKey, serverKeyPEM: tls.privateKeyPEM)
    }

    @Test func aRotationResealsEverythingAndRetiresTheOldKey() async throws {
        let fixture = try await makeFixture()
        let before = try MasterKeyLoader.readPlain(fixture.directory.masterKey, fixture.directory)
        let (loaded, database) = try fixture.start()
        let rotation = MasterKeyRotation(
            loaded, directory: fixture.directory, hardware: nil, store: database, clock: SystemClock())
        let report = try await rotation.rotate()

        #expect(report.previousKeyID == Hex.encode(before.identifier))
        #expect(report.keyID != report.previousKeyID)
        #expect(report.resealed["devices"] == 2)
        #expect(report.resealed["data_keys"] == 1)
        #expect(report.resealed["server.key.sealed"] == 1)
        #expect(report.resealed["ca.key.sealed"] == 1)
        #expect(report.resealed["master.key.check"] == 1)
        #expect(!fixture.directory.exists(fixture.directory.nextMasterKey))
        let after = try MasterKeyLoader.readPlain(fixture.directory.masterKey, fixture.directory)
        #expect(Hex.encode(after.identifier) == report.keyID)
        #expect(rotation.status() == MasterKeyStatus(keyID: report.keyID, source: "file", rotating: false))
        try await fixture.expectIntact()

        // The old key opens nothing any more: the store refuses it at the check value.
        try fixture.directory.write(Data((before.base64 + "\n").utf8), to: fixture.directory.masterKey, mode: 0o600)
        #expect(throws: WardenError.self) { _ = try MasterKeyLoader.load(fixture.directory, override: nil) }
    }

    /// A damaged sealed value (it opens under no key) is counted and left; the others move and the rotation ends.
    @Test func anUnreadableValueIsCountedAndDoesNotStopTheRotation() async throws {
        let fixture = try await makeFixture()
        let (loaded, database) = try fixture.start()
        // Sealed under a key this directory never had (a row copied in from elsewhere).
        let foreign = try SQLiteDatabase(
            path: fixture.directory.database, sealer: SealingKeyRing(current: MasterKey.generate()))
        _ = try await foreign.createDevice(
            Device(
                tenantID: .defaultTenant, id: try DeviceID("broken-1"), generationID: "g", etag: "e", status: .enabled,
                statusReason: nil, statusUpdatedAt: now, authentication: .sas(.random()), attributes: [:],
                createdAt: now, updatedAt: now))
        let report = try await MasterKeyRotation(
            loaded, directory: fixture.directory, hardware: nil, store: database, clock: SystemClock()
        ).rotate()
        #expect(report.resealed["unreadable.devices"] == 2)
        #expect(report.resealed["devices"] == 2)
        #expect(!fixture.directory.exists(fixture.directory.nextMasterKey))
        try await fixture.expectIntact()
    }

    /// A stop (kill -9) at each point of the rotation: the next start opens everything and ends the rotation.
    @Test(arguments: [MasterKeyRotation.Step.nextKeyWritten, .storeResealed, .filesResealed])
    func aRotationStoppedAtAnyPointEndsAtTheNextStart(_ stop: MasterKeyRotation.Step) async throws {
        struct Stopped: Error {}
        let fixture = try await makeFixture()
        let (loaded, database) = try fixture.start()
        let rotation = MasterKeyRotation(
            loaded, directory: fixture.directory, hardware: nil, store: database, clock: SystemClock(),
            checkpoint: { if $0 == stop { throw Stopped() } })
        await #expect(throws: Stopped.self) { _ = try await rotation.rotate() }
        #expect(fixture.directory.exists(fixture.directory.nextMasterKey))
        let next = try MasterKeyLoader.readPlain(fixture.directory.nextMasterKey, fixture.directory)

        // The restart: both keys open, and the rotation ends before anything is served.
        let (restarted, store) = try fixture.start()
        #expect(restarted.rotationPending)
        let resumed = MasterKeyRotation(
            restarted, directory: fixture.directory, hardware: nil, store: store, clock: SystemClock())
        let report = try #require(try await resumed.resumeIfPending())
        #expect(report.keyID == Hex.encode(next.identifier))
        #expect(!fixture.directory.exists(fixture.directory.nextMasterKey))
        #expect(
            try MasterKeyLoader.readPlain(fixture.directory.masterKey, fixture.directory).identifier == next.identifier)
        #expect(try await resumed.resumeIfPending() == nil)
        try await fixture.expectIntact()
    }

    @Test func aKeyFromTheEnvironmentIsNotRotated() async throws {
        let folder = FileManager.default.temporaryDirectory.appending(path: "warden-rotate-\(UUID().uuidString)").path
        let directory = DataDirectory(path: folder)
        try directory.prepare()
        let key = MasterKey.generate()
        let loaded = try MasterKeyLoader.load(directory, override: SecretBytes(Array(key.base64.utf8)))
        let database = try SQLiteDatabase(path: directory.database, sealer: loaded.ring)
        let rotation = MasterKeyRotation(
            loaded, directory: directory, hardware: nil, store: database, clock: SystemClock())
        #expect(rotation.status().source == "environment")
        await #expect { _ = try await rotation.rotate() } throws: {
            ($0 as? WardenError)?.code == .masterKeyNotRotatable
        }
        #expect(!directory.exists(directory.nextMasterKey))
    }
}
