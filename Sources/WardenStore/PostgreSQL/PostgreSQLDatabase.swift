import Foundation
public import Logging
import NIOSSL
import PostgresNIO
import Synchronization
public import WardenCore

/// The store on a PostgreSQL server, for several nodes sharing one state (issue 18). It implements the same
/// protocols as `SQLiteDatabase`, on the same migrations in PostgreSQL's dialect, with the same semantics: a write
/// is one transaction, serialisable (retried when PostgreSQL says another transaction got in the way), so that
/// read-change-write sequences behave as under SQLite's single writer; secret columns are sealed before they are
/// written.
public final class PostgreSQLDatabase: Sendable {
    let client: PostgresClient
    let sealer: any SecretSealer
    let clock: any WardenClock
    /// `host:port`, for messages.
    private let endpoint: String
    private let running: Task<Void, Never>
    /// The queries' logger logs nothing: PostgresNIO logs each query at debug level, and sealed values and hashes
    /// stay out of the log whatever the server's level.
    static let queryLogger = Logger(label: "warden.store.postgresql.query", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Connects to the server `settings` names, and applies pending migrations (one node at a time).
    ///
    /// - Throws: `store.unusable` when the database holds tables but was not made by Warden, or was migrated by a
    ///   newer Warden; `store.unavailable` when it cannot be reached or refuses the login.
    public init(
        _ settings: PostgreSQLSettings, sealer: any SecretSealer, clock: any WardenClock = SystemClock(),
        logger: Logger = Logger(label: "warden.store.postgresql"), startTimeout: Duration = startTimeout
    ) async throws {
        // PostgresNIO traces every message the server sends, rows included: never below debug here.
        var backgroundLogger = logger
        backgroundLogger.logLevel = max(logger.logLevel, .debug)
        let client = PostgresClient(
            configuration: try settings.clientConfiguration(), backgroundLogger: backgroundLogger)
        self.client = client
        self.running = Task { await client.run() }
        self.sealer = sealer
        self.clock = clock
        self.endpoint = "\(settings.host):\(settings.port)"
        do {
            try await migrate(waiting: startTimeout)
        } catch {
            running.cancel()
            throw error
        }
    }

    /// How long start-up waits for the server before it gives up: the pool retries a refused connection
    /// without end, and a hub that cannot reach its store must say so rather than hang.
    public static let startTimeout = Duration.seconds(30)

    /// Closes the pool's connections.
    public func close() async {
        running.cancel()
        _ = await running.value
    }

    /// The migrations applied so far, oldest first.
    public func appliedMigrations() async throws -> [String] {
        try await read { connection in
            try await connection.rows("SELECT identifier FROM warden_migrations ORDER BY identifier")
                .map { try $0.value("identifier") as String }
        }
    }

    /// Whether the server answers a trivial query (for `/readyz`).
    public func isReachable() async -> Bool {
        (try? await transaction("BEGIN READ ONLY", waiting: .seconds(2)) { connection in
            try await connection.rows("SELECT 1 AS one").first.map { try $0.value("one") as Int }
        }) == 1
    }

    /// Runs a write transaction, mapping errors as `SQLiteDatabase.write` does. Serialisable: when PostgreSQL
    /// reports a serialisation failure or a deadlock (it rolled the transaction back), the transaction runs again
    /// after a random pause that grows with each attempt, up to `writeAttempts` times.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await transaction("BEGIN ISOLATION LEVEL SERIALIZABLE", body)
            } catch let error as PSQLError where Self.mustRetry(error) && attempt < Self.writeAttempts {
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(1 << min(attempt, 6)))))
                attempt += 1
            } catch {
                throw Self.mapped(error, "write")
            }
        }
    }

    /// Runs a read on one snapshot (a read-only repeatable-read transaction), with the same error mapping.
    func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
        } catch {
            throw Self.mapped(error, "read")
        }
    }

    func transaction<T: Sendable>(
        _ begin: PostgresQuery, waiting: Duration = leaseTimeout,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await leased(waiting: waiting) { connection in
            try await connection.run(begin)
            do {
                let value = try await body(connection)
                try await connection.run("COMMIT")
                return value
            } catch {
                // A failed COMMIT has already ended the transaction; this ROLLBACK then only warns.
                _ = try? await connection.run("ROLLBACK")
                throw error
            }
        }
    }

    /// How long an operation waits for a connection. While the server cannot be reached the pool keeps trying to
    /// connect and a lease would wait for ever: the operation fails instead (`store.unavailable`), and the next
    /// one tries again. A transaction that has its connection is never cut short (its outcome would be unknown).
    static let leaseTimeout = Duration.seconds(10)

    /// Runs `body` on a pooled connection, or fails with `store.unavailable` when none is free within `waiting`.
    private func leased<T: Sendable>(
        waiting: Duration, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let leased = LeaseFlag()
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await self.client.withConnection { connection in
                    leased.set()
                    return try await body(connection)
                }
            }
            group.addTask {
                try await Task.sleep(for: waiting)
                guard leased.isSet else {
                    throw WardenError(
                        .storeUnavailable,
                        "No connection to PostgreSQL at \(self.endpoint) within \(waiting.components.seconds) s "
                            + "(the log says why).")
                }
                return nil
            }
            while let result = try await group.next() {
                if let value = result {
                    group.cancelAll()
                    return value
                }
            }
            throw CancellationError()
        }
    }

    /// How often a write that keeps colliding with others runs before it fails (`store.unavailable`).
    static let writeAttempts = 12

    /// Serialisation failures and deadlocks: PostgreSQL rolled the transaction back, and running it again is how
    /// its documentation says to answer them.
    private static func mustRetry(_ error: PSQLError) -> Bool {
        ["40001", "40P01"].contains(error.serverInfo?[.sqlState])
    }

    static func mapped(_ error: any Error, _ what: String) -> any Error {
        if error is WardenError { return error }
        if let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] {
            // Class 23: integrity constraint violations; class 22: data PostgreSQL refuses (U+0000 in text, a
            // number out of range). Either way this change can never be written: the writers drop it, not retry.
            if state.hasPrefix("23") || state.hasPrefix("22") {
                return WardenError(
                    .storeConstraintViolated,
                    "A database \(what) broke a schema rule: \(error.serverInfo?[.message] ?? state) (\(state)).")
            }
            return WardenError(
                .storeUnavailable, "A database \(what) failed: \(error.serverInfo?[.message] ?? state) (\(state)).")
        }
        // Not the error's description: a decoding error's holds the cell's bytes.
        return WardenError(.storeUnavailable, "A database \(what) failed (\(type(of: error))).")
    }
}

extension PostgresConnection {
    /// Runs `query` and returns every row, read by column name.
    func rows(_ query: PostgresQuery, logger: Logger = PostgreSQLDatabase.queryLogger) async throws
        -> [PostgresRandomAccessRow]
    {
        var rows: [PostgresRandomAccessRow] = []
        for try await row in try await self.query(query, logger: logger) {
            rows.append(row.makeRandomAccess())
        }
        return rows
    }

    /// Runs `query` and returns how many rows it changed.
    @discardableResult
    func run(_ query: PostgresQuery, logger: Logger = PostgreSQLDatabase.queryLogger) async throws -> Int {
        let result: PostgresQueryResult = try await self.query(query, logger: logger).get()
        return result.metadata.rows ?? 0
    }

    /// Whether `query` returns a row.
    func exists(_ query: PostgresQuery) async throws -> Bool {
        try await !rows(query).isEmpty
    }
}

/// Whether a lease got its connection (set from the pool's task, read by the timer's).
private final class LeaseFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
