import Foundation
import WardenCore
import WardenRegistry
import WardenSecurity
import WardenStore

/// A real registry on a temporary SQLite file with host name `hub.example` and one SAS device, `dev-1`,
/// and the directory following its bus.
struct DeviceRegistryFixture {
    let registry: RegistryService
    let bus = EventBus()
    let directory = DeviceDirectory()
    /// `dev-1`'s keys.
    let key: SASKeyPair

    init() async throws {
        let folder = FileManager.default.temporaryDirectory.appending(path: "warden-broker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let database = try SQLiteDatabase(
            path: folder.appending(path: "warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()))
        directory.follow(bus)
        registry = RegistryService(stores: .init(database), bus: bus, hubHostName: try HostName("hub.example"))
        _ = try await registry.ensureDefaultTenant()
        let device = try await registry.createDevice(.defaultTenant, .init(id: try DeviceID("dev-1")))
        guard case .sas(let keys) = device.authentication else { throw WardenError(.internalError, "not SAS") }
        key = keys
    }
}
