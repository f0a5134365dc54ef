import Foundation
import Testing
import WardenCore
import WardenSecurity

@testable import WardenStore

/// What opening a PostgreSQL store refuses, as SQLite's `ForeignDatabaseTests` do for files, and what several
/// nodes opening one at once do.
struct PostgreSQLOpeningTests {
    /// An empty database of its own, dropped afterwards (the fixture's `withFreshStore` opens and migrates one;
    /// these tests need it untouched).
    private func withEmptyDatabase(_ body: (TestPostgreSQL, String) async throws -> Void) async throws {
        let server = try await TestPostgreSQL.shared()
        let name = "warden_open_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""))"
        try await server.administer("CREATE DATABASE \(name) TEMPLATE template0")
        do {
            try await body(server, name)
        } catch {
            try? await server.administer("DROP DATABASE \(name) WITH (FORCE)")
            throw error
        }
        try? await server.administer("DROP DATABASE \(name) WITH (FORCE)")
    }

    private func open(_ server: TestPostgreSQL, _ name: String) async throws -> PostgreSQLDatabase {
        try await PostgreSQLDatabase(
            try PostgreSQLSettings(url: server.url(database: name), poolSize: 2),
            sealer: AESGCMSealer(masterKey: .generate()))
    }

    @Test func anotherProgramsDatabaseIsRefusedUntouched() async throws {
        try await withEmptyDatabase { server, name in
            try await server.administer("CREATE TABLE crm_customers (id int PRIMARY KEY)", in: name)
            await #expect(throws: WardenError(.storeUnusable, "")) { _ = try await open(server, name) }
            // Nothing was created: the table Warden would have made first is absent.
            await #expect(throws: WardenError.self) {
                try await server.administer("SELECT 1 FROM warden_migrations", in: name)
            }
        }
    }

    @Test func aDatabaseANewerWardenMigratedIsRefused() async throws {
        try await withEmptyDatabase { server, name in
            let database = try await open(server, name)
            await database.close()
            try await server.administer(
                "INSERT INTO warden_migrations (identifier) VALUES ('9999-from-the-future')", in: name)
            await #expect(throws: WardenError(.storeUnusable, "")) { _ = try await open(server, name) }
        }
    }

    /// Nodes starting together: each waits for the advisory lock, and the migrations run once.
    @Test func threeNodesOpeningAtOnceMigrateOnce() async throws {
        try await withEmptyDatabase { server, name in
            let opened = try await withThrowingTaskGroup(of: PostgreSQLDatabase.self) { group in
                for _ in 0..<3 { group.addTask { try await open(server, name) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(try await opened[0].appliedMigrations() == StoreMigrations.all.map(\.identifier))
            for database in opened { await database.close() }
        }
    }

    /// A server whose certificate does not chain to the root the URL names is not talked to: start-up gives up.
    @Test func aServerTheRootDoesNotVouchForIsRefused() async throws {
        let server = try await TestPostgreSQL.shared()
        // Another authority's certificate, made here with openssl.
        let root = FileManager.default.temporaryDirectory.appending(path: "warden-other-root-\(UUID()).pem").path
        _ = try await TestPostgreSQL.run(
            URL(fileURLWithPath: "/usr/bin/openssl"),
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                "-subj", "/CN=another authority", "-keyout", "/dev/null", "-out", root,
            ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        var components = server.base
        components.queryItems = [URLQueryItem(name: "sslrootcert", value: root)]
        let settings = try PostgreSQLSettings(url: components.string ?? "", poolSize: 1)
        await #expect(throws: WardenError(.storeUnavailable, "")) {
            _ = try await PostgreSQLDatabase(
                settings, sealer: AESGCMSealer(masterKey: .generate()), startTimeout: .seconds(3))
        }
    }
}
