import Foundation
import GRDB
public import WardenCore

/// The embedded store: one SQLite file in WAL mode, opened once and migrated on open (STYLE R9.2).
///
/// Every store protocol is implemented on it; secret columns are sealed with the given sealer before they
/// are written and opened after they are read.
public final class SQLiteDatabase: Sendable {
    let pool: DatabasePool
    let sealer: any SecretSealer
    let clock: any WardenClock

    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    public init(path: String, sealer: any SecretSealer, clock: any WardenClock = SystemClock()) throws {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // NORMAL is durable in WAL mode except for the last commits on power loss; FULL survives that too.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            self.pool = try DatabasePool(path: path, configuration: configuration)
            try SQLiteMigrations.migrator.migrate(pool)
        } catch {
            throw WardenError(.storeUnavailable, "The database at \(path) cannot be opened: \(error).")
        }
        self.sealer = sealer
        self.clock = clock
    }

    /// The migrations applied so far, oldest first.
    public func appliedMigrations() async throws -> [String] {
        try await pool.read { db in try SQLiteMigrations.migrator.appliedMigrations(db) }
    }

    /// Whether the database answers a trivial query (for `/readyz`).
    public func isReachable() async -> Bool {
        (try? await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1
    }

    /// Runs a write transaction, mapping GRDB errors to `store.unavailable` and passing coded errors through.
    func write<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch let error as WardenError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw WardenError(.storeConstraintViolated, "A database write broke a schema rule: \(error).")
        } catch {
            throw WardenError(.storeUnavailable, "A database write failed: \(error).")
        }
    }

    /// Runs a read, with the same error mapping.
    func read<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch let error as WardenError {
            throw error
        } catch {
            throw WardenError(.storeUnavailable, "A database read failed: \(error).")
        }
    }
}
