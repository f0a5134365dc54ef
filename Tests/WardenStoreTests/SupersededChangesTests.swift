import Foundation
import Testing
import WardenCore

@testable import WardenStore

/// A batch leaves out the puts and updates that a later delete of the same batch undoes, and the store ends as
/// it would have applying every change.
struct SupersededChangesTests {
    let tenant = TenantID.defaultTenant

    private func put(_ sequence: Int64, payload: UInt8 = 1) -> DeviceStateChange {
        .putMessage(
            StoredMessage(
                tenantID: tenant, clientID: "c", sequence: sequence,
                message: StoredPayload(topic: "t", payload: [payload], qos: 1, properties: [0], expiresAt: nil),
                deliveryQoS: 1, retain: false, subscriptionIdentifiers: [], packetID: nil, phase: 0))
    }

    private func update(_ sequence: Int64, packetID: UInt16? = 7) -> DeviceStateChange {
        .updateMessage(tenantID: tenant, clientID: "c", sequence: sequence, packetID: packetID, phase: 1)
    }

    private func delete(_ sequence: Int64, clientID: String = "c") -> DeviceStateChange {
        .deleteMessage(tenantID: tenant, clientID: clientID, sequence: sequence)
    }

    private func command(_ sequence: Int64) throws -> DeviceStateChange {
        .putCloudToDevice(
            CloudToDeviceMessage(
                sequenceNumber: sequence, tenantID: tenant, deviceID: try DeviceID("d"), messageID: "m",
                correlationID: nil, properties: "", body: [1], acknowledgement: .none, enqueuedAt: 0, expiresAt: 1))
    }

    @Test func aDeleteTakesThePutsAndUpdatesBeforeItOfTheSameMessageOnly() throws {
        let batch: [DeviceStateChange] = [
            put(1), update(1), put(2), update(2), delete(1), put(1), delete(2, clientID: "other"),
            try command(5), delete(3), try command(6), .deleteCloudToDevice(sequence: 5),
        ]
        #expect(
            DeviceStateChange.withoutSuperseded(batch) == [
                put(2), update(2), delete(1), put(1), delete(2, clientID: "other"), delete(3), try command(6),
                .deleteCloudToDevice(sequence: 5),
            ])
        // A settlement with a feedback record keeps what comes before it (its record is stored only if it finds
        // the message); a lock goes with a later delete.
        var locked = try command(7)
        if case .putCloudToDevice(let message) = locked { locked = .lockCloudToDevice(message, freeAt: 0) }
        let feedback = CloudToDeviceFeedback(
            sequenceNumber: 1, tenantID: tenant, deviceID: try DeviceID("d"), originalMessageID: "m", status: .success,
            description: "Success", enqueuedAt: 0, recordedAt: 0)
        let settled: [DeviceStateChange] = [
            try command(7), locked, .settleCloudToDevice(sequence: 7, feedback: feedback), try command(8), locked,
            .deleteCloudToDevice(sequence: 7),
        ]
        #expect(
            DeviceStateChange.withoutSuperseded(settled) == [
                try command(7), locked, .settleCloudToDevice(sequence: 7, feedback: feedback), try command(8),
                .deleteCloudToDevice(sequence: 7),
            ])
        let noDeletes = [put(1), update(1), try command(5)]
        #expect(DeviceStateChange.withoutSuperseded(noDeletes) == noDeletes)
    }

    /// A statement journal (every `INSERT OR REPLACE` in a batch opens one) is kept in memory in small chunks, not
    /// in a 64 KiB one that glibc serves with `mmap` and takes back with `munmap` for every statement.
    @Test func statementJournalsAreKeptInMemory() throws {
        _ = try TemporaryDatabase()
        #expect(SQLiteDatabase.statementJournalsInMemory)
    }

    /// Every batch of up to four puts (two different ones of the same message), updates (two different ones)
    /// and deletes of two messages, on a store with and without the first message: applied as a batch (by each
    /// engine: PostgreSQL's runs of one kind go as one statement, gathered by kind where that ends the same) and
    /// applied one change at a time (SQLite), the stores read back the same.
    @Test(arguments: StoreEngine.allCases) func everySmallBatchEndsAsItsChangesOneByOne(engine: StoreEngine)
        async throws
    {
        let alphabet = [put(1), put(1, payload: 2), update(1), update(1, packetID: nil), delete(1), put(2)]
        var batches: [[DeviceStateChange]] = [[]]
        var longer: [[DeviceStateChange]] = [[]]
        for _ in 1...4 {
            longer = longer.flatMap { batch in alphabet.map { batch + [$0] } }
            batches += longer
        }
        let session = DeviceStateChange.putSession(
            StoredSession(tenantID: tenant, clientID: "c", expiryInterval: 60, disconnectedAt: nil))
        let reset = DeviceStateChange.deleteSession(tenantID: tenant, clientID: "c")
        let oneByOne = try TemporaryDatabase()
        try await engine.withFreshStore { fresh in
            let whole = fresh.store
            for before in [[session], [session, put(1)]] {
                for batch in batches {
                    try await whole.apply(before)
                    try await whole.apply(batch)
                    try await oneByOne.database.apply(before)
                    for change in batch { try await oneByOne.database.apply([change]) }
                    let expected = try await oneByOne.database.loadMQTTState().messages
                    let found = try await whole.loadMQTTState().messages
                    #expect(found == expected, "\(before.count) before, then \(batch)")
                    try await whole.apply([reset])
                    try await oneByOne.database.apply([reset])
                }
            }
        }
    }
}
