public import Foundation
import PostgresNIO
import WardenCore

/// Failed sign-ins (`AccessStore`, migration 0031).
extension PostgreSQLDatabase {
    public func signInLockedUntil(_ keys: [String], after date: Date) async throws -> Date? {
        guard !keys.isEmpty else { return nil }
        return try await read { connection in
            let rows = try await connection.rows(
                """
                SELECT MAX(locked_until) AS until FROM sign_in_failures
                WHERE key = ANY(\(keys)::text[]) AND locked_until > \(date.unixMilliseconds)
                """)
            return try rows.first.flatMap { try $0.value("until") as Int64? }.map(Date.init(unixMilliseconds:))
        }
    }

    public func countSignInFailure(_ key: String, at date: Date, forgiveBefore: Date) async throws -> Int {
        try await write { connection in
            let rows = try await connection.rows(
                """
                INSERT INTO sign_in_failures (key, failures, last_failure) VALUES (\(key), 1, \(date.unixMilliseconds))
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN sign_in_failures.last_failure < \(forgiveBefore.unixMilliseconds) THEN 1
                        ELSE sign_in_failures.failures + 1 END,
                    last_failure = GREATEST(sign_in_failures.last_failure, excluded.last_failure)
                RETURNING failures
                """)
            return Int(clamping: try rows.first?.value("failures") as Int64? ?? 1)
        }
    }

    public func lockSignIn(_ key: String, until date: Date) async throws {
        try await write { connection in
            try await connection.run(
                """
                UPDATE sign_in_failures SET locked_until = GREATEST(COALESCE(locked_until, 0), \(date.unixMilliseconds))
                WHERE key = \(key)
                """)
        }
    }

    public func forgetSignInFailures(_ key: String) async throws {
        try await write { connection in
            try await connection.run("DELETE FROM sign_in_failures WHERE key = \(key)")
        }
    }

    public func pruneSignInFailures(quietSince date: Date, keeping: Int, now: Date) async throws {
        try await write { connection in
            let running = now.unixMilliseconds
            try await connection.run(
                """
                DELETE FROM sign_in_failures
                WHERE last_failure < \(date.unixMilliseconds) AND (locked_until IS NULL OR locked_until <= \(running))
                """)
            // total: a count of rows, far below Int64's range.
            let offset = Int64(max(keeping, 0))
            try await connection.run(
                """
                DELETE FROM sign_in_failures WHERE (locked_until IS NULL OR locked_until <= \(running)) AND last_failure
                    < (SELECT last_failure FROM sign_in_failures ORDER BY last_failure DESC LIMIT 1 OFFSET \(offset))
                """)
        }
    }
}
