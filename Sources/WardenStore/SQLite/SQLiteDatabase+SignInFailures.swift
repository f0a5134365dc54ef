public import Foundation
import GRDB
import WardenCore

/// Failed sign-ins (`AccessStore`, migration 0031).
extension SQLiteDatabase {
    public func signInLockedUntil(_ keys: [String], after date: Date) async throws -> Date? {
        guard !keys.isEmpty else { return nil }
        return try await read { db in
            let marks = keys.map { _ in "?" }.joined(separator: ", ")
            let until = try Int64.fetchOne(
                db,
                sql: "SELECT MAX(locked_until) FROM sign_in_failures WHERE key IN (\(marks)) AND locked_until > ?",
                arguments: StatementArguments(keys + [date.unixMilliseconds] as [any DatabaseValueConvertible]))
            return until.map(Date.init(unixMilliseconds:))
        }
    }

    public func countSignInFailure(_ key: String, at date: Date, forgiveBefore: Date) async throws -> Int {
        try await write { db in
            let count = try Int64.fetchOne(
                db,
                sql: """
                    INSERT INTO sign_in_failures (key, failures, last_failure) VALUES (?, 1, ?)
                    ON CONFLICT (key) DO UPDATE SET
                        failures = CASE WHEN sign_in_failures.last_failure < ? THEN 1
                            ELSE sign_in_failures.failures + 1 END,
                        last_failure = MAX(sign_in_failures.last_failure, excluded.last_failure)
                    RETURNING failures
                    """,
                arguments: [key, date.unixMilliseconds, forgiveBefore.unixMilliseconds])
            return Int(clamping: count ?? 1)
        }
    }

    public func lockSignIn(_ key: String, until date: Date) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE sign_in_failures SET locked_until = MAX(COALESCE(locked_until, 0), ?) WHERE key = ?",
                arguments: [date.unixMilliseconds, key])
        }
    }

    public func forgetSignInFailures(_ key: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM sign_in_failures WHERE key = ?", arguments: [key])
        }
    }

    public func pruneSignInFailures(quietSince date: Date, keeping: Int, now: Date) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    DELETE FROM sign_in_failures
                    WHERE last_failure < ? AND (locked_until IS NULL OR locked_until <= ?)
                    """,
                arguments: [date.unixMilliseconds, now.unixMilliseconds])
            try db.execute(
                sql: """
                    DELETE FROM sign_in_failures WHERE (locked_until IS NULL OR locked_until <= ?) AND last_failure
                        < (SELECT last_failure FROM sign_in_failures ORDER BY last_failure DESC LIMIT 1 OFFSET ?)
                    """,
                arguments: [now.unixMilliseconds, max(keeping, 0)])
        }
    }
}
