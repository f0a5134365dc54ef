public import Foundation
import GRDB

extension SQLiteDatabase: NodeSlotStore {
    public func leaseNodeSlot(node: String, name: String, count: Int, now: Date, staleAfter: TimeInterval)
        async throws -> Int?
    {
        try await write { db in
            try db.execute(
                sql: "DELETE FROM node_slots WHERE renewed_at < ?", arguments: [now.addingTimeInterval(-staleAfter)])
            let held = try Int.fetchAll(db, sql: "SELECT slot FROM node_slots")
            guard let slot = Self.lowestFree(held, count: count) else { return nil }
            try db.execute(
                sql: "INSERT INTO node_slots (slot, node, name, renewed_at) VALUES (?, ?, ?, ?)",
                arguments: [slot, node, name, now])
            return slot
        }
    }

    public func renewNodeSlot(_ slot: Int, node: String, now: Date) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE node_slots SET renewed_at = ? WHERE slot = ? AND node = ?", arguments: [now, slot, node])
            return db.changesCount == 1
        }
    }

    public func liveNodeSlots(now: Date, staleAfter: TimeInterval) async throws -> [Int] {
        try await read { db in
            try Int.fetchAll(
                db, sql: "SELECT slot FROM node_slots WHERE renewed_at >= ? ORDER BY slot",
                arguments: [now.addingTimeInterval(-staleAfter)])
        }
    }

    public func releaseNodeSlot(_ slot: Int, node: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM node_slots WHERE slot = ? AND node = ?", arguments: [slot, node])
        }
    }

    public func expireSessionsOfStoppedNodes(now: Date, staleAfter: TimeInterval) async throws -> Int {
        try await write { db in
            let stopped = """
                node IS NOT NULL AND node NOT IN
                    (SELECT name FROM node_slots WHERE renewed_at >= ? AND name IS NOT NULL)
                """
            let cutoff = now.addingTimeInterval(-staleAfter)
            let seconds = now.timeIntervalSince1970
            let unnamed = try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM node_slots WHERE renewed_at >= ? AND name IS NULL)",
                arguments: [cutoff])
            guard unnamed == false else { return 0 }
            try db.execute(
                sql: "UPDATE mqtt_sessions SET disconnected_at = ? WHERE disconnected_at IS NULL AND \(stopped)",
                arguments: [seconds, cutoff])
            try db.execute(
                sql: """
                    DELETE FROM mqtt_sessions WHERE expiry_interval < 4294967295
                    AND disconnected_at + expiry_interval < ? AND \(stopped)
                    """,
                arguments: [seconds, cutoff])
            return db.changesCount
        }
    }
}
