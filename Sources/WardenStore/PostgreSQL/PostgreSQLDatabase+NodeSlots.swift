public import Foundation
import PostgresNIO

/// Leases are judged by the database's clock (`now()`), not the nodes': nodes' clocks may differ by more than a
/// lease, so the `now` they pass is not used here.
extension PostgreSQLDatabase: NodeSlotStore {
    /// The advisory lock a lease holds ("Slot" in ASCII): nodes starting at once lease one after the other.
    static let nodeSlotLock: Int64 = 0x536C_6F74

    public func leaseNodeSlot(node: String, name: String, count: Int, now: Date, staleAfter: TimeInterval)
        async throws -> Int?
    {
        do {
            return try await transaction("BEGIN") { connection in
                try await connection.run("SELECT pg_advisory_xact_lock(\(Self.nodeSlotLock))")
                try await connection.run(
                    "DELETE FROM node_slots WHERE renewed_at < now() - make_interval(secs => \(staleAfter))")
                let held = try await connection.rows("SELECT slot FROM node_slots").map { row -> Int in
                    try row.value("slot")
                }
                guard let slot = Self.lowestFree(held, count: count) else { return nil }
                try await connection.run(
                    "INSERT INTO node_slots (slot, node, name, renewed_at) VALUES (\(slot), \(node), \(name), now())")
                return slot
            }
        } catch {
            throw Self.mapped(error, "write")
        }
    }

    public func renewNodeSlot(_ slot: Int, node: String, now: Date) async throws -> Bool {
        try await write { connection in
            try await connection.run(
                "UPDATE node_slots SET renewed_at = now() WHERE slot = \(slot) AND node = \(node)") == 1
        }
    }

    public func liveNodeSlots(now: Date, staleAfter: TimeInterval) async throws -> [Int] {
        try await read { connection in
            try await connection.rows(
                "SELECT slot FROM node_slots WHERE renewed_at >= now() - make_interval(secs => \(staleAfter)) ORDER BY slot"
            ).map { row -> Int in try row.value("slot") }
        }
    }

    public func releaseNodeSlot(_ slot: Int, node: String) async throws {
        try await write { connection -> Void in
            try await connection.run("DELETE FROM node_slots WHERE slot = \(slot) AND node = \(node)")
        }
    }

    public func expireSessionsOfStoppedNodes(now: Date, staleAfter: TimeInterval) async throws -> Int {
        let seconds = now.timeIntervalSince1970
        return try await write { connection in
            let unnamed = try await connection.rows(
                """
                SELECT 1 FROM node_slots WHERE renewed_at >= now() - make_interval(secs => \(staleAfter))
                AND name IS NULL LIMIT 1
                """)
            guard unnamed.isEmpty else { return 0 }
            try await connection.run(
                """
                UPDATE mqtt_sessions SET disconnected_at = \(seconds) WHERE disconnected_at IS NULL
                AND node IS NOT NULL AND node NOT IN (SELECT name FROM node_slots
                    WHERE renewed_at >= now() - make_interval(secs => \(staleAfter)) AND name IS NOT NULL)
                """)
            return try await connection.run(
                """
                DELETE FROM mqtt_sessions WHERE expiry_interval < 4294967295
                AND disconnected_at + expiry_interval < \(seconds)
                AND node IS NOT NULL AND node NOT IN (SELECT name FROM node_slots
                    WHERE renewed_at >= now() - make_interval(secs => \(staleAfter)) AND name IS NOT NULL)
                """)
        }
    }
}
