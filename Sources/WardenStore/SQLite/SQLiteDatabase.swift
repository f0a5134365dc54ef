import CWardenSQLite
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
    ///
    /// - Throws: `store.unusable`, changing nothing, when the file is not a database, is corrupted, holds
    ///   tables but was not made by Warden, or was migrated by a newer Warden; `store.unavailable` otherwise.
    public init(path: String, sealer: any SecretSealer, clock: any WardenClock = SystemClock()) throws {
        _ = Self.statementJournalsInMemory
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // NORMAL is durable in WAL mode except for the last commits on power loss; FULL survives that too.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            if FileManager.default.fileExists(atPath: path) { try Self.checkOwnership(path) }
            self.pool = try DatabasePool(path: path, configuration: configuration)
            try StoreMigrations.sqlite.migrate(pool)
        } catch let error as WardenError {
            throw error
        } catch let error as DatabaseError where [.SQLITE_NOTADB, .SQLITE_CORRUPT].contains(error.resultCode) {
            throw WardenError(
                .storeUnusable, "\(path) is not a readable SQLite database (\(error.resultCode)); nothing was changed.")
        } catch {
            throw WardenError(.storeUnavailable, "The database at \(path) cannot be opened: \(error).")
        }
        self.sealer = sealer
        self.clock = clock
    }

    /// Whether SQLite keeps statement journals in memory in 1 KiB chunks, set once before the process opens its
    /// first database. By default a statement journal (which every `INSERT OR REPLACE`, and every statement with
    /// foreign keys to check, opens inside a transaction) takes a 64 KiB chunk; above `MemoryTuning`'s mmap
    /// threshold that was an `mmap` and a `munmap` (with its TLB shootdown) per statement: 30 % of the server's CPU
    /// with durable QoS 1 sessions (36.6k → 69.4k acknowledged msg/s with the subscribers connected, 36.9k →
    /// 58.0k with them away; BENCHMARKS.md). A journal holds the pages one statement changed; Warden's
    /// statements change a few rows, or a bounded batch. False when SQLite was opened before (the server warns).
    public static let statementJournalsInMemory = warden_sqlite_keep_statement_journals_in_memory() == 0

    /// Refuses a file another program made (tables but none of our migrations) or a newer Warden migrated
    /// (migrations this one does not know). Read-only: opening the pool would already switch the file to WAL.
    private static func checkOwnership(_ path: String) throws {
        var readOnly = Configuration()
        readOnly.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: readOnly)
        defer { try? queue.close() }
        try queue.read { db in
            let tables = try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            if !tables.isEmpty, !tables.contains("grdb_migrations") {
                throw WardenError(
                    .storeUnusable,
                    "\(path) holds tables (\(tables.prefix(5).joined(separator: ", "))) but is not a Warden database; "
                        + "nothing was changed.")
            }
            if tables.contains("grdb_migrations"), try StoreMigrations.sqlite.hasBeenSuperseded(db) {
                throw WardenError(
                    .storeUnusable, "\(path) was migrated by a newer Warden; run that version or restore a backup.")
            }
        }
    }

    /// The migrations applied so far, oldest first.
    public func appliedMigrations() async throws -> [String] {
        try await pool.read { db in try StoreMigrations.sqlite.appliedMigrations(db) }
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
    /// A consistent copy of the whole database at `path` (SQLite's online backup, inside one read transaction:
    /// writers go on meanwhile; the copy is the database as it was when the read began).
    public func snapshot(to path: String) async throws {
        let destination = try DatabaseQueue(path: path)
        let pool = self.pool
        try await destination.writeWithoutTransaction { copy in
            try pool.read { source in try source.backup(to: copy) }
        }
        try destination.close()
    }

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
