import Foundation
import WardenCore
import WardenSecurity
import WardenStore

/// A real SQLite database in a fresh temporary folder.
struct TemporaryDatabase {
    let folder: URL
    let path: String
    let masterKey = MasterKey.generate()
    let database: SQLiteDatabase

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("warden-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        path = folder.appendingPathComponent("warden.sqlite").path
        database = try SQLiteDatabase(path: path, sealer: AESGCMSealer(masterKey: masterKey))
    }

    func reopen() throws -> SQLiteDatabase {
        try SQLiteDatabase(path: path, sealer: AESGCMSealer(masterKey: masterKey))
    }
}
