import Foundation
import GRDB
import Testing
import WardenCore
import WardenSecurity
import WardenStore

/// A file Warden did not write, or cannot read, is refused at open and left exactly as it was.
struct ForeignDatabaseTests {
    private func open(_ path: String) -> WardenError? {
        do {
            _ = try SQLiteDatabase(path: path, sealer: AESGCMSealer(masterKey: .generate()))
            return nil
        } catch {
            return error as? WardenError
        }
    }

    private func temporaryPath() throws -> String {
        // SQLite is configured before the process opens its first database, as the server's first is a store.
        _ = SQLiteDatabase.statementJournalsInMemory
        let folder = FileManager.default.temporaryDirectory.appending(path: "warden-foreign-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appending(path: "warden.sqlite").path
    }

    @Test func randomBytesAreRefusedUntouched() throws {
        let path = try temporaryPath()
        let garbage = Data((0..<8192).map { _ in UInt8.random(in: 0...255) })
        try garbage.write(to: URL(fileURLWithPath: path))
        #expect(open(path)?.code == .storeUnusable)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
    }

    @Test func anotherProgramsDatabaseIsRefusedUntouched() throws {
        let path = try temporaryPath()
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE customers (id INTEGER); INSERT INTO customers VALUES (1)")
        }
        try queue.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(open(path)?.code == .storeUnusable)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test func aDatabaseANewerWardenMigratedIsRefused() throws {
        let temporary = try TemporaryDatabase()
        let queue = try DatabaseQueue(path: temporary.path)
        try queue.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('9999-from-the-future')")
        }
        try queue.close()
        #expect(open(temporary.path)?.code == .storeUnusable)
    }

    /// A row someone edited by hand into a value its column's type cannot hold (STRICT tables still take any
    /// text in a time column) once stopped the process inside GRDB; now the read fails with a named error.
    @Test func aHandEditedValueIsAnErrorNotACrash() async throws {
        let temporary = try TemporaryDatabase()
        let queue = try DatabaseQueue(path: temporary.path)
        try await queue.write { db in
            try db.execute(
                sql: "INSERT INTO tenants (id, host_name, created_at) VALUES ('bent', 'bent.example', 'yesterday')")
        }
        try queue.close()
        await #expect(throws: WardenError(.storeUnavailable, "")) {
            _ = try await temporary.database.tenants(after: nil, limit: 100)
        }
    }
}
