import Foundation
import Testing
import WardenCore

@testable import WardenStore

/// The broker's durable state: sessions with subscriptions and messages, retained messages.
struct MQTTStateStoreTests {
    let tenant = TenantID.defaultTenant

    private func payload(_ topic: String) -> StoredPayload {
        StoredPayload(topic: topic, payload: Array("p".utf8), qos: 1, properties: [0], expiresAt: nil)
    }

    private func message(_ sequence: Int64) -> StoredMessage {
        StoredMessage(
            tenantID: tenant, clientID: "c", sequence: sequence, message: payload("t"), deliveryQoS: 1, retain: false,
            subscriptionIdentifiers: [3, 4], packetID: nil, phase: 0)
    }

    @Test func changesApplyInOrderAndReadBack() async throws {
        let temporary = try TemporaryDatabase()
        let store = temporary.database
        let disconnected = Date(timeIntervalSince1970: 1_800_000_000)
        try await store.apply([
            .putSession(StoredSession(tenantID: tenant, clientID: "c", expiryInterval: 60, disconnectedAt: nil)),
            .putSubscription(
                StoredSubscription(tenantID: tenant, clientID: "c", filter: "a/#", options: 0x05, identifier: 7)),
            .putMessage(message(1)), .putMessage(message(2)),
            .updateMessage(tenantID: tenant, clientID: "c", sequence: 1, packetID: 9, phase: 1),
            .deleteMessage(tenantID: tenant, clientID: "c", sequence: 2),
            .putRetained(StoredRetained(tenantID: tenant, message: payload("r"))),
            .putSession(
                StoredSession(tenantID: tenant, clientID: "c", expiryInterval: 30, disconnectedAt: disconnected)),
        ])
        let snapshot = try await store.loadMQTTState()
        #expect(
            snapshot.sessions == [
                StoredSession(tenantID: tenant, clientID: "c", expiryInterval: 30, disconnectedAt: disconnected)
            ])
        #expect(snapshot.subscriptions.map(\.filter) == ["a/#"])
        #expect(snapshot.messages.map(\.sequence) == [1])
        #expect(snapshot.messages.first?.packetID == 9)
        #expect(snapshot.messages.first?.subscriptionIdentifiers == [3, 4])
        #expect(snapshot.retained.map(\.message.topic) == ["r"])
    }

    @Test func deletingASessionTakesItsSubscriptionsAndMessages() async throws {
        let temporary = try TemporaryDatabase()
        let store = temporary.database
        try await store.apply([
            .putSession(StoredSession(tenantID: tenant, clientID: "c", expiryInterval: 60, disconnectedAt: nil)),
            .putSubscription(
                StoredSubscription(tenantID: tenant, clientID: "c", filter: "a", options: 1, identifier: nil)),
            .putMessage(message(1)),
            .deleteSession(tenantID: tenant, clientID: "c"),
        ])
        let snapshot = try await store.loadMQTTState()
        #expect(snapshot.sessions.isEmpty && snapshot.subscriptions.isEmpty && snapshot.messages.isEmpty)
    }
}

/// A change that breaks the schema is told apart from an unavailable store.
struct MQTTStateConstraintTests {
    @Test func messageWithoutItsSessionIsAConstraintViolation() async throws {
        let temporary = try TemporaryDatabase()
        let message = StoredMessage(
            tenantID: .defaultTenant, clientID: "nobody", sequence: 1,
            message: StoredPayload(topic: "t", payload: [], qos: 1, properties: [0], expiresAt: nil), deliveryQoS: 1,
            retain: false, subscriptionIdentifiers: [], packetID: nil, phase: 0)
        await #expect(throws: WardenError(.storeConstraintViolated, "")) {
            try await temporary.database.apply([.putMessage(message)])
        }
    }
}
