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

    private func stamp(_ time: Int64, node: UInt8 = 1) -> RetainStamp {
        RetainStamp(time: time, node: UUID(uuid: (node, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)))
    }

    private func message(_ sequence: Int64) -> StoredMessage {
        StoredMessage(
            tenantID: tenant, clientID: "c", sequence: sequence, message: payload("t"), deliveryQoS: 1, retain: false,
            subscriptionIdentifiers: [3, 4], packetID: nil, phase: 0)
    }

    /// On several nodes a session's changes apply only while its row names the writing node, unless the batch
    /// claims it: a node that missed its session's move writes nothing over the new holder, and learns so.
    @Test(arguments: StoreEngine.allCases) func sessionWritesAreFencedByTheirNode(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            func row(_ node: String, claims: Bool = false, client: String = "c") -> DeviceStateChange {
                .putSession(
                    StoredSession(
                        tenantID: tenant, clientID: client, expiryInterval: 60, disconnectedAt: nil, node: node,
                        claims: claims))
            }
            let key = StoredSessionKey(tenantID: tenant, clientID: "c")
            #expect(try await store.apply([row("a", claims: true), .putMessage(message(1))], fencedTo: "a") == [])
            #expect(try await store.apply([row("b", claims: true)], fencedTo: "b") == [])
            let late: [DeviceStateChange] = [
                .putMessage(message(2)), .deleteMessage(tenantID: tenant, clientID: "c", sequence: 1), row("a"),
                .deleteSession(tenantID: tenant, clientID: "c"),
            ]
            #expect(try await store.apply(late, fencedTo: "a") == [key])
            var snapshot = try await store.loadMQTTSession(tenantID: tenant, clientID: "c")
            #expect(snapshot.sessions.map(\.node) == ["b"] && snapshot.messages.map(\.sequence) == [1])
            // A session whose row is gone is not written back, and not reported: nobody holds it.
            #expect(try await store.apply([row("a", client: "gone")], fencedTo: "a") == [])
            #expect(try await store.loadMQTTSession(tenantID: tenant, clientID: "gone").sessions.isEmpty)
            // The holder's own writes apply; a claim takes the row whoever named it.
            #expect(try await store.apply([.putMessage(message(3))], fencedTo: "b") == [])
            #expect(
                try await store.apply(
                    [row("a", claims: true), .deleteSession(tenantID: tenant, clientID: "c")], fencedTo: "a")
                    == [])
            snapshot = try await store.loadMQTTSession(tenantID: tenant, clientID: "c")
            #expect(snapshot.sessions.isEmpty)
        }
    }

    /// Retained messages of one topic from several nodes: the store keeps the one with the latest stamp (time,
    /// then node) whatever order the writes come in, a clear (an empty payload) included, which is kept until a
    /// later clear of the tenant finds it past keeping; a delete takes only the message it names.
    @Test(arguments: StoreEngine.allCases) func retainedMessagesKeepTheLatestStamp(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            func retained(_ topic: String, _ body: String, _ stamp: RetainStamp) -> DeviceStateChange {
                .putRetained(
                    StoredRetained(
                        tenantID: tenant,
                        message: StoredPayload(
                            topic: topic, payload: Array(body.utf8), qos: 1, properties: [], expiresAt: nil),
                        stamp: stamp))
            }
            func held() async throws -> [String: (body: String, stamp: RetainStamp)] {
                var held: [String: (String, RetainStamp)] = [:]
                for entry in try await store.loadRetainedMessages() {
                    held[entry.message.topic] = (String(decoding: entry.message.payload, as: UTF8.self), entry.stamp)
                }
                return held
            }
            try await store.apply([retained("a", "later", stamp(20)), retained("a", "earlier", stamp(10))])
            try await store.apply([retained("a", "tie, lower node", stamp(20, node: 0))])
            #expect(try await held()["a"]?.body == "later")
            try await store.apply([retained("a", "tie, higher node", stamp(20, node: 2))])
            let tie = try await held()["a"]
            #expect(tie?.body == "tie, higher node" && tie?.stamp == stamp(20, node: 2))
            // A clear holds the topic against older messages, until it is past keeping.
            try await store.apply([retained("a", "", stamp(30)), retained("a", "before the clear", stamp(25))])
            #expect(try await held()["a"]?.body == "")
            let past = 30 + StoredRetained.clearsKeptFor + 1
            try await store.apply([retained("b", "", stamp(past))])
            #expect(try await held().keys.sorted() == ["b"])
            // A delete takes the message it names only; expired messages go that way.
            try await store.apply([
                retained("c", "kept", stamp(40)), .deleteRetained(tenantID: tenant, topic: "c", stamp: stamp(39)),
            ])
            #expect(try await held()["c"]?.body == "kept")
            try await store.apply([.deleteRetained(tenantID: tenant, topic: "c", stamp: stamp(40))])
            #expect(try await held()["c"] == nil)
            #expect(try await store.loadMQTTState().retained.map(\.message.topic) == ["b"])
        }
    }

    @Test(arguments: StoreEngine.allCases) func changesApplyInOrderAndReadBack(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in try await changesApplyInOrderAndReadBack(fresh.store) }
    }

    private func changesApplyInOrderAndReadBack(_ store: any PortedStores) async throws {
        let disconnected = Date(timeIntervalSince1970: 1_800_000_000)
        try await store.apply([
            .putSession(StoredSession(tenantID: tenant, clientID: "c", expiryInterval: 60, disconnectedAt: nil)),
            .putSubscription(
                StoredSubscription(tenantID: tenant, clientID: "c", filter: "a/#", options: 0x05, identifier: 7)),
            .putMessage(message(1)), .putMessage(message(2)),
            .updateMessage(tenantID: tenant, clientID: "c", sequence: 1, packetID: 9, phase: 1),
            .deleteMessage(tenantID: tenant, clientID: "c", sequence: 2),
            .putRetained(StoredRetained(tenantID: tenant, message: payload("r"), stamp: stamp(1))),
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

    /// Every column of a message survives a run of puts (one statement on PostgreSQL), NULLs and all.
    @Test(arguments: StoreEngine.allCases) func messagesKeepEveryColumn(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let expiring = StoredMessage(
                tenantID: tenant, clientID: "c", sequence: 7,
                message: StoredPayload(
                    topic: "a/b", payload: [0, 255, 10], qos: 2, properties: [1, 2],
                    expiresAt: Date(timeIntervalSince1970: 1_800_000_000.5)),
                deliveryQoS: 2, retain: true, subscriptionIdentifiers: [], packetID: 65_535, phase: 3)
            try await fresh.store.apply([
                .putSession(StoredSession(tenantID: tenant, clientID: "c", expiryInterval: .max, disconnectedAt: nil)),
                .putMessage(message(6)), .putMessage(expiring), .putMessage(message(8)),
                .updateMessage(tenantID: tenant, clientID: "c", sequence: 6, packetID: 1, phase: 1),
                .updateMessage(tenantID: tenant, clientID: "c", sequence: 8, packetID: nil, phase: 2),
            ])
            let messages = try await fresh.reopen().loadMQTTState().messages
            #expect(messages.map(\.sequence) == [6, 7, 8])
            #expect(messages[1] == expiring)
            #expect(messages[0].packetID == 1 && messages[0].phase == 1)
            #expect(messages[2].packetID == nil && messages[2].phase == 2)
            #expect(try await fresh.store.loadMQTTState().sessions.first?.expiryInterval == .max)
        }
    }

    @Test(arguments: StoreEngine.allCases) func deletingASessionTakesItsSubscriptionsAndMessages(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
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

    /// A long run of telemetry (SQLite puts up to 64 rows in one statement), broken by other changes, is stored
    /// whole and in order; one bad row (a sequence number taken) stores nothing of its batch.
    @Test(arguments: StoreEngine.allCases) func longTelemetryRunsAreStoredWhole(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            let devices = [try DeviceID("a"), try DeviceID("b")]
            let telemetry = (1...200).map { index in
                TelemetryMessage(
                    sequenceNumber: Int64(index), tenantID: tenant, deviceID: devices[index % 2],
                    enqueuedAtMilliseconds: Int64(index), authMethod: index % 3 == 0 ? .x509CA : .sas,
                    properties: "k=\(index)", body: Array(repeating: UInt8(index % 256), count: index))
            }
            let session = StoredSession(tenantID: tenant, clientID: "c", expiryInterval: 60, disconnectedAt: nil)
            try await store.apply(
                telemetry[..<130].map { .appendTelemetry($0) } + [.putSession(session)]
                    + telemetry[130...].map { .appendTelemetry($0) })
            for device in devices {
                #expect(
                    try await store.telemetry(tenant, device, from: 0, to: 1_000, afterSequence: 0, limit: 500)
                        == telemetry.filter { $0.deviceID == device })
            }
            #expect(try await store.loadMQTTState().sessions == [session])
            let next = TelemetryMessage(
                sequenceNumber: 201, tenantID: tenant, deviceID: devices[0], enqueuedAtMilliseconds: 201,
                authMethod: .sas, properties: "", body: [])
            await #expect(throws: (any Error).self) {
                try await store.apply((0..<70).map { _ in .appendTelemetry(next) })
            }
            #expect(try await store.lastTelemetrySequence() == 200)
        }
    }

    /// Telemetry, cloud-to-device messages and feedback, and twins go through the same batches.
    @Test(arguments: StoreEngine.allCases) func hubStateAppliesAndReadsBack(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            let device = try DeviceID("d")
            let telemetry = (1...3).map { index in
                TelemetryMessage(
                    sequenceNumber: Int64(index), tenantID: tenant, deviceID: device,
                    enqueuedAtMilliseconds: 1_000 * Int64(index), authMethod: .sas, properties: "{\"k\":\"\(index)\"}",
                    body: [UInt8(index), 0, 255])
            }
            let queued = CloudToDeviceMessage(
                sequenceNumber: 5, tenantID: tenant, deviceID: device, messageID: "m", correlationID: nil,
                properties: "{}", body: [1], acknowledgement: .full, enqueuedAt: 10, expiresAt: 20, deliveryCount: 0)
            var delivered = queued
            delivered.deliveryCount = 2
            delivered.httpsLock = .init(token: "etag", until: 15)
            var twin = DeviceTwin(tenantID: tenant, deviceID: device)
            twin.desired.properties = ["mode": .string("eco")]
            twin.desired.version = 4
            twin.desired.lastUpdated = ["mode": 1_234]
            try await store.apply(
                telemetry.map { .appendTelemetry($0) } + [
                    .putCloudToDevice(queued), .putCloudToDevice(delivered),
                    .putCloudToDevice(
                        CloudToDeviceMessage(
                            sequenceNumber: 6, tenantID: tenant, deviceID: device, messageID: "gone",
                            correlationID: "c", properties: "{}", body: [], acknowledgement: .none, enqueuedAt: 10,
                            expiresAt: 20, deliveryCount: 0)),
                    .settleCloudToDevice(
                        sequence: 6,
                        feedback: CloudToDeviceFeedback(
                            sequenceNumber: 1, tenantID: tenant, deviceID: device, originalMessageID: "m",
                            status: .success, description: "Success", enqueuedAt: 11, recordedAt: 12)),
                    .putTwin(twin, .desired),
                ])
            #expect(
                try await store.telemetry(tenant, device, from: 0, to: 10_000, afterSequence: 1, limit: 10) == [
                    telemetry[1], telemetry[2],
                ])
            #expect(try await store.lastTelemetrySequence() == 3)
            #expect(try await store.deleteTelemetry(enqueuedBefore: 2_500, limit: 10) == 2)
            #expect(try await store.loadCloudToDeviceMessages() == [delivered])
            #expect(try await store.cloudToDeviceMessage(tenant, device, lockToken: "etag") == delivered)
            #expect(try await store.cloudToDeviceMessage(tenant, try DeviceID("e"), lockToken: "etag") == nil)
            // An update of a message that is gone (settled on another node) does not bring it back.
            var settled = delivered
            settled.deliveryCount = 3
            let gone = CloudToDeviceMessage(
                sequenceNumber: 99, tenantID: tenant, deviceID: device, messageID: "gone", correlationID: nil,
                properties: "{}", body: [], acknowledgement: .none, enqueuedAt: 10, expiresAt: 20)
            try await store.apply([.updateCloudToDevice(gone), .updateCloudToDevice(settled)])
            #expect(try await store.loadCloudToDeviceMessages() == [settled])
            // A lock takes only over no running lock, and not a message that is gone.
            var mine = settled
            mine.httpsLock = .init(token: "mine", until: 40)
            try await store.apply([.lockCloudToDevice(mine, freeAt: 14), .lockCloudToDevice(gone, freeAt: 100)])
            #expect(try await store.loadCloudToDeviceMessages() == [settled])
            try await store.apply([.lockCloudToDevice(mine, freeAt: 15)])
            #expect(try await store.loadCloudToDeviceMessages() == [mine])
            // A second settlement of a message (on another node that had not heard of the first) records nothing.
            try await store.apply([
                .settleCloudToDevice(
                    sequence: 6,
                    feedback: CloudToDeviceFeedback(
                        sequenceNumber: 2, tenantID: tenant, deviceID: device, originalMessageID: "gone",
                        status: .expired, description: "Message expired", enqueuedAt: 11, recordedAt: 12))
            ])
            #expect(try await store.lastCloudToDeviceSequences() == (5, 1))
            #expect(try await store.feedback(tenant, afterSequence: 0, limit: 10).map(\.originalMessageID) == ["m"])
            #expect(try await store.deleteFeedback(recordedBefore: 13, limit: 10) == 1)
            let loaded = try await fresh.reopen().loadTwins()
            #expect(loaded == [twin])
            #expect(try await store.twin(tenant, device) == twin)
            // Another node's copy, without the desired change, writes its reported section only: both stay.
            var elsewhere = DeviceTwin(tenantID: tenant, deviceID: device)
            elsewhere.reported.properties = ["temperature": .number(21)]
            elsewhere.reported.version = 1
            try await store.apply([.putTwin(elsewhere, .reported)])
            let merged = try #require(try await store.twin(tenant, device))
            #expect(merged.desired == twin.desired && merged.reported == elsewhere.reported)
            try await store.apply([.deleteTwin(tenantID: tenant, deviceID: device)])
            #expect(try await store.loadTwins().isEmpty)
        }
    }

    /// Desired properties are written only over the version their writer read: of two writers at one version (two
    /// nodes' API), one wins and the other learns so; reported properties stay as they are.
    @Test(arguments: StoreEngine.allCases) func desiredPropertiesAreReplacedOnlyOverTheVersionRead(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            let device = try DeviceID("d")
            func twin(_ version: Int, _ mode: String) -> DeviceTwin {
                var twin = DeviceTwin(tenantID: tenant, deviceID: device)
                twin.desired.properties = ["mode": .string(mode)]
                twin.desired.version = version
                return twin
            }
            #expect(try await store.replaceDesired(of: twin(1, "eco"), ifAt: 0))
            #expect(try await !store.replaceDesired(of: twin(1, "boost"), ifAt: 0))
            var reported = DeviceTwin(tenantID: tenant, deviceID: device)
            reported.reported.version = 3
            try await store.apply([.putTwin(reported, .reported)])
            #expect(try await !store.replaceDesired(of: twin(3, "off"), ifAt: 2))
            #expect(try await store.replaceDesired(of: twin(2, "boost"), ifAt: 1))
            let stored = try #require(try await store.twin(tenant, device))
            #expect(stored.desired == twin(2, "boost").desired && stored.reported.version == 3)
            // A twin deleted (with its device) after its writer read it is not brought back.
            try await store.apply([.deleteTwin(tenantID: tenant, deviceID: device)])
            #expect(try await !store.replaceDesired(of: twin(3, "off"), ifAt: 2))
            #expect(try await store.twin(tenant, device) == nil)
        }
    }
}

/// A change that breaks the schema is told apart from an unavailable store.
struct MQTTStateConstraintTests {
    @Test(arguments: StoreEngine.allCases) func messageWithoutItsSessionIsAConstraintViolation(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let message = StoredMessage(
                tenantID: .defaultTenant, clientID: "nobody", sequence: 1,
                message: StoredPayload(topic: "t", payload: [], qos: 1, properties: [0], expiresAt: nil),
                deliveryQoS: 1,
                retain: false, subscriptionIdentifiers: [], packetID: nil, phase: 0)
            await #expect(throws: WardenError(.storeConstraintViolated, "")) {
                try await fresh.store.apply([.putMessage(message)])
            }
        }
    }
}

/// PostgreSQL refuses U+0000 in text where SQLite stores it: such a change is a broken rule (the writers drop
/// it), not an unavailable store (they would retry it for ever, holding every PUBACK behind it).
struct RefusedValueTests {
    @Test func aNullCharacterIsAConstraintViolationNotAnOutage() async throws {
        try await StoreEngine.postgresql.withFreshStore { fresh in
            let retained = StoredRetained(
                tenantID: .defaultTenant,
                message: StoredPayload(topic: "a\u{0}b", payload: [1], qos: 0, properties: [0], expiresAt: nil),
                stamp: .unstamped)
            await #expect(throws: WardenError(.storeConstraintViolated, "")) {
                try await fresh.store.apply([.putRetained(retained)])
            }
        }
    }
}
