import Foundation
import Logging
import PostgresNIO
import Synchronization
import WardenCore
import WardenSecurity

@testable import WardenStore

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

/// Everything both engines implement: the suites below run against each.
typealias PortedStores = HubStore

/// The engines the store suites run against: every test taking a `StoreEngine` runs once for each.
enum StoreEngine: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgresql

    var description: String { rawValue }

    /// Runs `body` with an empty, migrated database of this engine, then removes it.
    /// `sealer` seals what it writes (a fresh master key's by default).
    func withFreshStore(sealer: (any SecretSealer)? = nil, _ body: (FreshStore) async throws -> Void) async throws {
        let sealer = sealer ?? AESGCMSealer(masterKey: MasterKey.generate())
        switch self {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("warden-store-\(UUID())")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let path = folder.appendingPathComponent("warden.sqlite").path
            try await body(
                FreshStore(
                    store: try SQLiteDatabase(path: path, sealer: sealer),
                    open: { sealer in try SQLiteDatabase(path: path, sealer: sealer) }, sealer: sealer))
            try? FileManager.default.removeItem(at: folder)
        case .postgresql:
            let server = try await TestPostgreSQL.shared()
            let name = "warden_test_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""))"
            try await server.administer("CREATE DATABASE \(name) TEMPLATE template0")
            let settings = try PostgreSQLSettings(url: server.url(database: name), poolSize: 4)
            let opened = OpenedDatabases()
            do {
                let database = try await opened.open(settings, sealer)
                try await body(
                    FreshStore(
                        store: database, open: { sealer in try await opened.open(settings, sealer) }, sealer: sealer))
            } catch {
                await opened.closeAll()
                throw error
            }
            await opened.closeAll()
            // Autovacuum may be at work in it (a process the test's role cannot stop): try again, then leave it to
            // the server's folder, which is temporary.
            for attempt in 1...3 {
                do {
                    try await server.administer("DROP DATABASE \(name) WITH (FORCE)")
                    break
                } catch  where attempt < 3 {
                    try await Task.sleep(for: .milliseconds(200))
                } catch {}
            }
        }
    }
}

/// An empty database, and a way to open it again as a restarted node would.
struct FreshStore: Sendable {
    let store: any PortedStores
    let open: @Sendable (any SecretSealer) async throws -> any PortedStores
    let sealer: any SecretSealer

    /// The database opened again (another pool, as a restarted node), sealing with `sealer` (the first's by
    /// default).
    func reopen(sealer: (any SecretSealer)? = nil) async throws -> any PortedStores {
        try await open(sealer ?? self.sealer)
    }
}

/// The connection pools a PostgreSQL test opened, closed when it ends.
final class OpenedDatabases: Sendable {
    private let databases = Mutex<[PostgreSQLDatabase]>([])

    func open(_ settings: PostgreSQLSettings, _ sealer: any SecretSealer) async throws -> PostgreSQLDatabase {
        let database = try await PostgreSQLDatabase(settings, sealer: sealer)
        databases.withLock { $0.append(database) }
        return database
    }

    func closeAll() async {
        for database in databases.withLock({ $0 }) { await database.close() }
    }
}

/// The PostgreSQL server the tests use: `WARDEN_TEST_POSTGRES_URL` when set, otherwise one this process starts
/// with scripts/postgres.sh in the temporary folder (once; later runs reuse it while it runs).
struct TestPostgreSQL: Sendable {
    let base: URLComponents

    /// Started at most once, without blocking a thread: a lazy `static let` that waited for the script held its
    /// once-lock on a thread of the (two-thread) cooperative pool, and the tests queued behind it never ran.
    static func shared() async throws -> TestPostgreSQL {
        try await starting.withLock { task in
            if let task { return task }
            let started = Task { try await start() }
            task = started
            return started
        }.value
    }

    private static let starting = Mutex<Task<TestPostgreSQL, any Error>?>(nil)

    private static func start() async throws -> TestPostgreSQL {
        if let url = ProcessInfo.processInfo.environment["WARDEN_TEST_POSTGRES_URL"] {
            return try TestPostgreSQL(url)
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        // One server per user; a folder someone else made (and could have filled) is not used.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("warden-test-postgresql-\(getuid())")
        if let owner = try? FileManager.default.attributesOfItem(atPath: folder.path)[.ownerAccountID] as? UInt32,
            owner != getuid(), !(getuid() == 0 && owner == getpwnam("postgres")?.pointee.pw_uid)
        {
            throw WardenError(.storeUnusable, "\(folder.path) belongs to another user.")
        }
        let status = try await run(root.appendingPathComponent("scripts/postgres.sh"), ["start", folder.path])
        guard status == 0, let url = try? String(contentsOf: folder.appendingPathComponent("url"), encoding: .utf8)
        else {
            throw WardenError(.storeUnavailable, "scripts/postgres.sh could not start PostgreSQL for the tests.")
        }
        return try TestPostgreSQL(
            url.trimmingCharacters(in: .whitespacesAndNewlines) + "?sslrootcert=\(folder.path)/server.crt")
    }

    /// Runs a program to its end without blocking a thread; its output goes nowhere (a server it starts would
    /// hold a pipe open for ever).
    static func run(_ program: URL, _ arguments: [String]) async throws -> Int32 {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        return try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
    }

    init(_ url: String) throws {
        guard let components = URLComponents(string: url) else {
            throw WardenError(.storeUnusable, "WARDEN_TEST_POSTGRES_URL is not a URL.")
        }
        base = components
    }

    func url(database: String) -> String {
        var components = base
        components.path = "/" + database
        return components.string ?? ""
    }

    /// Runs one statement on the server's own database (creating and dropping the tests' databases), or on
    /// `database`.
    func administer(_ statement: String, in database: String? = nil) async throws {
        let settings = try PostgreSQLSettings(url: database.map(url(database:)) ?? base.string ?? "", poolSize: 1)
        let client = PostgresClient(configuration: try settings.clientConfiguration())
        try await withThrowingTaskGroup { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            do {
                try await client.query(PostgresQuery(unsafeSQL: statement))
            } catch let error as PSQLError {
                throw WardenError(
                    .storeUnavailable, "\(statement): \(error.serverInfo?[.message] ?? String(reflecting: error))")
            }
        }
    }
}
