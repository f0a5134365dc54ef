import Foundation
import WardenCore
import WardenRegistry
import WardenSecurity
import WardenStore

/// A registry on a real temporary SQLite database, with its bus and directory wired as the server wires them.
struct RegistryFixture {
    let database: SQLiteDatabase
    let bus = EventBus()
    let directory = DeviceDirectory()
    let registry: RegistryService

    init() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "warden-registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        database = try SQLiteDatabase(
            path: folder.appendingPathComponent("warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()))
        directory.follow(bus)
        registry = RegistryService(stores: .init(database), bus: bus, hubHostName: try HostName("hub.example"))
        _ = try await registry.ensureDefaultTenant()
    }
}
