import Crypto
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
import WardenAuthentication
import WardenCore
import WardenMQTT
import WardenPolicy
import WardenRegistry
import WardenSecurity
import WardenStore

@testable import WardenBroker

/// One connection's handler on an embedded channel: real registry, real codec, no socket.
@MainActor struct MQTTConnectionHandlerTests {
    let fixture: DeviceRegistryFixture
    let records = Records()
    let loop = EmbeddedEventLoop()
    let broker: Broker

    var bus: EventBus { fixture.bus }
    var directory: DeviceDirectory { fixture.directory }
    var key: SASKeyPair { fixture.key }

    init() async throws {
        fixture = try await DeviceRegistryFixture()
        broker = Broker(configuration: .init(), timers: loop)
        fixture.bus.observe { [records] event in
            if case .authentication(let record) = event { records.list.withLock { $0.append(record) } }
        }
    }

    func channel(
        authorizer: any Authorizer = PolicyAuthorizer(FixedPolicyFacts()), logger: Logger = .init(label: "test"),
        broker: Broker? = nil
    ) throws -> EmbeddedChannel {
        let services = ConnectionServices(
            broker: broker ?? self.broker, authenticator: DeviceAuthenticator(directory: directory),
            authorizer: authorizer, limiter: ConnectRateLimiter(configuration: .init()),
            pending: PendingConnections(limits: .init(perAddress: 1_000, total: 1_000)),
            listener: MQTTListener.Configuration(name: "test", host: "127.0.0.1", port: 0), clock: SystemClock(),
            logger: logger, connectionIDs: ConnectionIDs(), events: bus)
        let address = try #require(IPAddress("127.0.0.1"))
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(
            MQTTConnectionHandler(services: services, peerAddress: address, usesTLS: true, presented: PresentedChain()))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    private func send(_ packet: MQTTPacket, version: ProtocolVersion = .v311, to channel: EmbeddedChannel) throws
        -> [UInt8]
    {
        var buffer = ByteBuffer()
        try MQTTEncoder.encode(packet, version: version, into: &buffer)
        try channel.writeInbound(buffer)
        // What is due, and a CONNECT's wait for the connection holding its session (`ChannelSink.caughtUp`).
        loop.advanceTime(by: ChannelSink.catchUpTime)
        var reply: [UInt8] = []
        while let out = try channel.readOutbound(as: ByteBuffer.self) { reply += out.readableBytesView }
        return reply
    }

    func connect(
        token: String, username: String = "hub.example/dev-1/?api-version=2021-04-12", keepAlive: UInt16 = 60,
        version: ProtocolVersion = .v311, cleanStart: Bool = true
    ) -> MQTTPacket {
        .connect(
            ConnectPacket(
                protocolVersion: version, cleanStart: cleanStart, keepAlive: keepAlive, clientID: "dev-1",
                username: username, password: Array(token.utf8)))
    }

    var validToken: String { token(SymmetricKey(data: key.primary.bytes)) }

    private func token(_ key: SymmetricKey, expiry: UInt64 = UInt64(Date().timeIntervalSince1970) + 3600) -> String {
        SASTokenSigner.token(resource: "hub.example/devices/dev-1", key: key, expiry: expiry)
    }

    @Test func refusalAnswersCode4AndPublishesTheRecord() throws {
        let channel = try channel()
        #expect(try send(connect(token: token(SymmetricKey(size: .bits256))), to: channel) == [0x20, 0x02, 0x00, 0x04])
        let record = try #require(records.list.withLock { $0.first })
        #expect(!record.isAccepted && record.principal == "dev-1" && record.tenantID == .defaultTenant)
        #expect(record.method == .sas && record.failure != nil)
        #expect(!channel.isActive)
    }

    /// A policy that denies `connect` refuses a device whose credentials are good: 3.1.1 code 5, 5.0 0x87, and a
    /// denial on the bus naming the statement's reason.
    @Test func aPolicyDenyingConnectRefusesAProvedDevice() throws {
        let lost = PolicyStatement(
            id: "lost-units", effect: .deny, principals: PolicyPrincipals(devices: ["dev-*"]), actions: [.connect])
        let authorizer = PolicyAuthorizer(FixedPolicyFacts(PolicyDocument(statements: [lost])))
        let denials = Mutex<[AuthorizationDenial]>([])
        bus.observe { event in
            if case .authorizationDenied(let denial) = event { denials.withLock { $0.append(denial) } }
        }
        #expect(try send(connect(token: validToken), to: channel(authorizer: authorizer)) == [0x20, 0x02, 0x00, 0x05])
        let five = try channel(authorizer: authorizer)
        #expect(
            try send(connect(token: validToken, version: .v5), version: .v5, to: five).prefix(4) == [
                0x20, 0x03, 0x00, 0x87,
            ])
        #expect(!five.isActive)
        let denial = try #require(denials.withLock { $0.first })
        #expect(denial.action == "connect" && denial.principal == "dev-1" && !denial.referenceID.isEmpty)
        #expect(denial.unmetConditions == ["statement 'lost-units' denies it"])
    }

    @Test func acceptedDevicePublishesInItsNamespaceAndIsRecorded() throws {
        let channel = try channel()
        #expect(try send(connect(token: token(SymmetricKey(data: key.primary.bytes))), to: channel) == [0x20, 2, 0, 0])
        #expect(records.list.withLock { $0.map(\.isAccepted) } == [true])
        let publish = PublishPacket(
            qos: .atLeastOnce, topic: "devices/dev-1/messages/events/", packetID: 7, payload: ByteBuffer(string: "x"))
        #expect(try send(.publish(publish), to: channel) == [0x40, 0x02, 0x00, 0x07])
        // 3.1.1 cannot refuse in PUBACK: outside its namespace the connection closes.
        var outside = publish
        outside.topic = "devices/dev-2/messages/events/"
        _ = try send(.publish(outside), to: channel)
        #expect(!channel.isActive)
    }

    /// A broker with a store, and an offline persistent session subscribed to dev-1's telemetry: each QoS 1
    /// message from dev-1 is queued for it, so its PUBACK waits for the commit, which the test does by hand.
    func brokerWaitingForCommits() throws -> (Broker, BrokerPersistence) {
        let folder = FileManager.default.temporaryDirectory.appending(path: "warden-acks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let database = try SQLiteDatabase(
            path: folder.appending(path: "warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()))
        let persistence = BrokerPersistence(store: database, clock: SystemClock(), logger: Logger(label: "test"))
        let broker = Broker(configuration: .init(), timers: loop, persistence: persistence)
        let watcher = BrokerTests.Recorder(peerAddress: try #require(IPAddress("127.0.0.1")))
        let session = broker.open(
            SessionKey(tenantID: .defaultTenant, clientID: "watcher"), cleanStart: true, expiryInterval: 600,
            receiveMaximum: 10, sink: watcher, now: .now()
        ).session
        _ = broker.subscribe(
            session,
            [
                Broker.SubscribeRequest(
                    filter: try TopicFilter("devices/dev-1/messages/events/#"),
                    options: SubscriptionOptions(qos: .atLeastOnce), retainHandling: .doNotSend)
            ])
        broker.close(session, sink: watcher, will: nil, now: .now())
        return (broker, persistence)
    }

    func telemetry(_ packetID: UInt16?) -> MQTTPacket {
        .publish(
            PublishPacket(
                qos: packetID == nil ? .atMostOnce : .atLeastOnce, topic: "devices/dev-1/messages/events/",
                packetID: packetID, payload: ByteBuffer(string: "reading")))
    }

    /// Commits what is pending, then runs what the commit handed to the connection's loop.
    func commit(_ persistence: BrokerPersistence) async {
        await persistence.commitPending()
        loop.run()
    }

    /// The store falling behind cannot let a client that does not wait for its acknowledgements grow what waits
    /// for the commit: a 3.1.1 client past the Receive Maximum (100) is not read until half of its
    /// acknowledgements are out; a 5.0 client is closed with 0x93, as the CONNACK's Receive Maximum promised.
    @Test func acknowledgementsWaitingForTheStoreAreBoundedByTheReceiveMaximum() async throws {
        let (broker, persistence) = try brokerWaitingForCommits()
        let channel = try channel(broker: broker)
        #expect(try send(connect(token: validToken), to: channel) == [0x20, 2, 0, 0])
        func reads() -> Bool {
            channel.options.last { $0.option is ChannelOptions.Types.AutoReadOption }?.value as? Bool ?? true
        }
        for id in 1...100 { #expect(try send(telemetry(UInt16(id)), to: channel).isEmpty) }
        #expect(reads(), "100 waiting: the Receive Maximum")
        #expect(try send(telemetry(101), to: channel).isEmpty)
        #expect(!reads())
        await commit(persistence)
        var acks: [UInt8] = []
        while let out = try channel.readOutbound(as: ByteBuffer.self) { acks += out.readableBytesView }
        #expect(acks.count == 101 * 4 && acks.suffix(4) == [0x40, 2, 0, 101])
        #expect(reads())

        let five = try self.channel(broker: broker)
        let connack = try send(connect(token: validToken, version: .v5), version: .v5, to: five)
        #expect(connack.first == 0x20 && connack.dropFirst(2).prefix(2) == [0, 0])
        for id in 1...100 { _ = try send(telemetry(UInt16(id)), version: .v5, to: five) }
        #expect(five.isActive)
        let refusal = try send(telemetry(101), version: .v5, to: five)
        #expect(refusal.prefix(4) == [0xE0, refusal[1], 0x93, refusal[3]] && !five.isActive)
    }

    /// Stores every device message as telemetry, as the hub does.
    final class StoresTelemetry: DeviceTrafficHandler {
        let sequence = Atomic<Int64>(0)
        func received(_ message: BrokerMessage, from sender: DeviceSender, isWill: Bool) -> DeviceTrafficOutcome {
            let number = sequence.wrappingAdd(1, ordering: .relaxed).newValue
            return DeviceTrafficOutcome(
                changes: [
                    .appendTelemetry(
                        TelemetryMessage(
                            sequenceNumber: number, tenantID: sender.tenantID, deviceID: sender.deviceID,
                            enqueuedAtMilliseconds: 0, authMethod: .sas, properties: "{}",
                            body: Array(message.payload.readableBytesView)))
                ], route: nil)
        }
        func deviceReady(_ sender: DeviceSender) {}
        func deviceGone(_ sender: DeviceSender) {}
    }

    /// QoS 0 messages that change the store have nothing to wait for, so a device could publish them faster than
    /// the store commits: past four times the Receive Maximum waiting, it is not read until half are committed.
    /// Its keep-alive does not run out meanwhile (what it sent waits unread), and counts again from then.
    @Test func qos0MessagesWaitingForTheStoreAreBounded() async throws {
        let (broker, persistence) = try brokerWaitingForCommits()
        broker.install(StoresTelemetry())
        let channel = try channel(broker: broker)
        #expect(try send(connect(token: validToken, keepAlive: 2), to: channel) == [0x20, 2, 0, 0])
        func reads() -> Bool {
            channel.options.last { $0.option is ChannelOptions.Types.AutoReadOption }?.value as? Bool ?? true
        }
        for _ in 1...400 { _ = try send(telemetry(nil), to: channel) }
        #expect(reads(), "400 waiting: four times the Receive Maximum")
        for _ in 1...100 { _ = try send(telemetry(nil), to: channel) }
        #expect(!reads())
        loop.advanceTime(by: .seconds(10))
        #expect(channel.isActive, "not read for 10 s with a keep-alive of 2 s: the hub's silence, not the client's")
        await commit(persistence)
        #expect(reads())
        loop.advanceTime(by: .seconds(2))
        #expect(channel.isActive)
        loop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive, "3 s of silence after the store caught up")
    }

    /// A client whose answers fill the socket's write buffer is not read until they drain: a stream of PINGREQs
    /// from a client that never reads cannot queue PINGRESPs without bound.
    @Test func aClientThatDoesNotReadIsNotReadUntilItsAnswersDrain() throws {
        let channel = try channel()
        #expect(try send(connect(token: validToken), to: channel) == [0x20, 2, 0, 0])
        // The embedded channel answers autoRead as always on; what the handler set is in its options.
        func reads() -> Bool {
            channel.options.last { $0.option is ChannelOptions.Types.AutoReadOption }?.value as? Bool ?? true
        }
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(!reads())
        // What was read before the pause is still answered (one read at most).
        #expect(try send(.pingreq, to: channel) == [0xD0, 0x00])
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(reads())
        #expect(channel.isActive)
    }
}

extension MQTTConnectionHandlerTests {
    @Test func azureDialectClosesOnQoS2PublishAndPlainMQTTKeepsIt() throws {
        let publish = PublishPacket(
            qos: .exactlyOnce, topic: "devices/dev-1/messages/events/", packetID: 3, payload: ByteBuffer(string: "x"))
        let azure = try channel()
        _ = try send(connect(token: validToken), to: azure)
        _ = try send(.publish(publish), to: azure)
        #expect(!azure.isActive)

        let plain = try channel()
        #expect(try send(connect(token: validToken, username: "hub.example/dev-1"), to: plain) == [0x20, 2, 0, 0])
        #expect(try send(.publish(publish), to: plain) == [0x50, 0x02, 0x00, 0x03])  // PUBREC
        #expect(plain.isActive)
    }

    @Test func azureDialectGrantsQoS1ForAQoS2Subscription() throws {
        let subscribe = SubscribePacket(
            packetID: 9,
            subscriptions: [.init(filter: try TopicFilter("devices/dev-1/messages/devicebound/#"), qos: .exactlyOnce)])
        let azure = try channel()
        _ = try send(connect(token: validToken), to: azure)
        #expect(try send(.subscribe(subscribe), to: azure) == [0x90, 0x03, 0x00, 0x09, 0x01])
        let plain = try channel()
        _ = try send(connect(token: validToken, username: "hub.example/dev-1"), to: plain)
        #expect(try send(.subscribe(subscribe), to: plain) == [0x90, 0x03, 0x00, 0x09, 0x02])
    }

    @Test func azureDialectCapsKeepAliveAndTellsAnMQTT5Client() throws {
        let channel = try channel()
        let reply = try send(connect(token: validToken, keepAlive: 0, version: .v5), version: .v5, to: channel)
        var buffer = ByteBuffer(bytes: reply)
        guard case .connack(let connack) = try MQTTDecoder.decode(&buffer, version: .v5, limits: .init()) else {
            Issue.record("no CONNACK")
            return
        }
        #expect(connack.properties.serverKeepAlive == 1177 && connack.properties.maximumQoS == 1)
    }
}

/// What mosquitto's own broker tests found (docs/conformance.md).
extension MQTTConnectionHandlerTests {
    private func connect5(properties: Properties = Properties()) -> MQTTPacket {
        .connect(
            ConnectPacket(
                protocolVersion: .v5, cleanStart: true, keepAlive: 60, clientID: "dev-1", username: "hub.example/dev-1",
                password: Array(validToken.utf8), properties: properties))
    }

    @Test func aClientWhoseMaximumPacketSizeCannotHoldTheConnackIsClosedWithoutAnyPacket() throws {
        // [MQTT-3.1.2-25] and [MQTT-3.14.0-1]: no CONNACK that does not fit, and no DISCONNECT before a CONNACK.
        var properties = Properties()
        properties.maximumPacketSize = 2
        let channel = try channel()
        #expect(try send(connect5(properties: properties), version: .v5, to: channel) == [])
        #expect(!channel.isActive)
    }

    @Test func a5PublishNothingTakesIsAcknowledgedWithNoMatchingSubscribers() throws {
        let channel = try channel()
        _ = try send(connect5(), version: .v5, to: channel)
        let publish = PublishPacket(
            qos: .atLeastOnce, topic: "devices/dev-1/messages/events/", packetID: 7, payload: ByteBuffer(string: "x"))
        #expect(try send(.publish(publish), version: .v5, to: channel) == [0x40, 0x03, 0x00, 0x07, 0x10])
        let subscribe = SubscribePacket(
            packetID: 8, subscriptions: [.init(filter: try TopicFilter("devices/dev-1/#"), qos: .atMostOnce)])
        _ = try send(.subscribe(subscribe), version: .v5, to: channel)
        #expect(try send(.publish(publish), version: .v5, to: channel).suffix(4) == [0x40, 0x02, 0x00, 0x07])
    }

    @Test func aTopicWithTooManyLevelsClosesTheConnection() throws {
        let channel = try channel()
        _ = try send(connect5(), version: .v5, to: channel)
        let deep = PublishPacket(
            qos: .atMostOnce, topic: "devices/dev-1/" + String(repeating: "/", count: 300), payload: ByteBuffer())
        let reply = try send(.publish(deep), version: .v5, to: channel)
        #expect(reply.prefix(3) == [0xE0, reply.count > 1 ? reply[1] : 0, 0x82])
        #expect(!channel.isActive)
    }
}

/// A device signs whatever `se` it likes with its own key; a far one once trapped converting to `Int64`.
extension MQTTConnectionHandlerTests {
    nonisolated static let farExpiries: [UInt64] = [UInt64(1) << 63, .max, 20_000_000_000]

    @Test(arguments: farExpiries)
    func tokenExpiringFarInTheFutureConnectsWithoutTrapping(expiry: UInt64) throws {
        let far = token(SymmetricKey(data: key.primary.bytes), expiry: expiry)
        for version in [ProtocolVersion.v311, .v5] {
            let channel = try channel()
            let reply = try send(connect(token: far, version: version), version: version, to: channel)
            #expect(reply.first == 0x20 && reply.count >= 4 && reply[2...3] == [0, 0])
            #expect(channel.isActive)
        }
    }

    @Test(arguments: farExpiries)
    func reauthenticationWithAFarExpiryKeepsTheConnection(expiry: UInt64) throws {
        let channel = try channel()
        try connectWithSASMethod(channel)
        let reply = try reauthenticate(channel, token(SymmetricKey(data: key.primary.bytes), expiry: expiry))
        #expect(reply.first == 0xF0)  // AUTH 0x00: accepted
        #expect(channel.isActive)
    }

    /// A 5.0 CONNECT of dev-1 that names the SAS authentication method, so that AUTH can re-authenticate.
    private func connectWithSASMethod(_ channel: EmbeddedChannel) throws {
        var properties = Properties()
        properties.authenticationMethod = "SAS"
        let connect = ConnectPacket(
            protocolVersion: .v5, cleanStart: true, keepAlive: 60, clientID: "dev-1",
            username: "hub.example/dev-1/?api-version=2021-04-12", password: Array(validToken.utf8),
            properties: properties)
        _ = try send(.connect(connect), version: .v5, to: channel)
    }

    /// AUTH 0x19 with a fresh token; the reply's bytes.
    private func reauthenticate(_ channel: EmbeddedChannel, _ token: String) throws -> [UInt8] {
        var properties = Properties()
        properties.authenticationMethod = "SAS"
        properties.authenticationData = Array(token.utf8)
        return try send(
            .auth(ReasonPacket(reasonCode: .reAuthenticate, properties: properties)), version: .v5, to: channel)
    }
}

/// What the bus carried.
final class Records: Sendable {
    let list = Mutex<[AuthenticationRecord]>([])
}

/// The handler reads packets straight from the bytes (no decoder stage): however the stream is cut.
extension MQTTConnectionHandlerTests {
    func bytes(_ packets: [MQTTPacket]) throws -> [UInt8] {
        var buffer = ByteBuffer()
        for packet in packets { try MQTTEncoder.encode(packet, version: .v311, into: &buffer) }
        return Array(buffer.readableBytesView)
    }

    func deliver(_ chunks: [[UInt8]], to channel: EmbeddedChannel) throws -> [UInt8] {
        for chunk in chunks { try channel.writeInbound(ByteBuffer(bytes: chunk)) }
        loop.run()
        var reply: [UInt8] = []
        while let out = try channel.readOutbound(as: ByteBuffer.self) { reply += out.readableBytesView }
        return reply
    }

    func publish(_ packetID: UInt16) -> MQTTPacket {
        .publish(
            PublishPacket(
                qos: .atLeastOnce, topic: "devices/dev-1/messages/events/", packetID: packetID,
                payload: ByteBuffer(string: "payload \(packetID)")))
    }

    @Test func packetsSplitAcrossReadsAndSharingOneAreEachHandled() throws {
        let channel = try channel()
        let stream = try bytes([connect(token: validToken), publish(1), publish(2)])
        // One byte per read, then three packets in one read.
        let oneByteEach = try deliver(stream.map { [$0] }, to: channel)
        #expect(oneByteEach == [0x20, 2, 0, 0, 0x40, 2, 0, 1, 0x40, 2, 0, 2])
        let together = try deliver([bytes([publish(3), publish(4), publish(5)])], to: channel)
        #expect(together == [0x40, 2, 0, 3, 0x40, 2, 0, 4, 0x40, 2, 0, 5])
        #expect(channel.isActive)
    }

    @Test func nothingAfterAMalformedPacketIsHandled() throws {
        let channel = try channel()
        #expect(try deliver([bytes([connect(token: validToken)])], to: channel) == [0x20, 2, 0, 0])
        // A PUBLISH with a zero packet id ([MQTT-2.3.1-1]) and then a valid one in the same read.
        var malformed = try bytes([publish(1)])
        let idOffset = 2 + 2 + "devices/dev-1/messages/events/".utf8.count
        malformed[idOffset] = 0
        malformed[idOffset + 1] = 0
        #expect(try deliver([malformed + bytes([publish(2)])], to: channel) == [])
        #expect(!channel.isActive)
    }
}

extension MQTTConnectionHandlerTests {
    /// A closed connection leaves nothing behind: the handler, its channel and its session are freed (a
    /// handler that kept its context formed a cycle that leaked ~2.6 KiB per connection, bench/results.md).
    @Test func aClosedConnectionFreesItsHandler() throws {
        weak var handler: MQTTConnectionHandler?
        do {
            let channel = try channel()
            handler = try channel.pipeline.syncOperations.handler(type: MQTTConnectionHandler.self)
            #expect(try send(connect(token: validToken), to: channel) == [0x20, 2, 0, 0])
            try channel.close().wait()
            loop.run()
        }
        #expect(handler == nil)
    }

    /// A timer is armed at most `tickHorizon` ahead and re-armed when it fires early: a keep-alive far beyond
    /// the horizon still ends the connection at one and a half times it, not before.
    @Test func aKeepAliveBeyondTheTickHorizonEndsTheConnectionOnTime() throws {
        let channel = try channel()
        #expect(try send(connect(token: validToken, keepAlive: 100), to: channel) == [0x20, 2, 0, 0])
        #expect(MQTTConnectionHandler.tickHorizon < .seconds(149))
        loop.advanceTime(by: .seconds(149))
        #expect(channel.isActive)
        loop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }
}

/// Fresh credentials are a fresh question to the policy: a device it no longer lets connect is refused at
/// re-authentication, not only at the next CONNECT.
extension MQTTConnectionHandlerTests {
    /// Allows every request until `closed` is set, then denies `connect`.
    final class ClosingAuthorizer: Authorizer {
        let closed = Mutex(false)

        func decide(_ request: AuthorizationRequest) -> Decision {
            request.action == .connect && closed.withLock({ $0 }) ? .deny(["closed for the test"]) : .allow()
        }
    }

    @Test func reauthenticationAsksThePolicyAgain() throws {
        let authorizer = ClosingAuthorizer()
        let channel = try channel(authorizer: authorizer)
        try connectWithSASMethod(channel)
        #expect(channel.isActive)
        authorizer.closed.withLock { $0 = true }
        let reply = try reauthenticate(channel, validToken)
        #expect(reply.first == 0xE0 && reply.count > 2 && reply[2] == 0x87)  // DISCONNECT: Not authorized
        #expect(!channel.isActive)
    }
}

/// A connection's log messages say which connection, peer, client and authentication they belong to (the
/// metadata is put together per message, not kept per connection).
extension MQTTConnectionHandlerTests {
    /// Keeps what is logged.
    final class LogCapture: Sendable {
        let messages = Mutex<[(message: String, metadata: Logger.Metadata)]>([])
    }

    struct CapturingLogHandler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.messages.withLock { $0.append(("\(event.message)", merged)) }
        }
    }

    @Test func aConnectionsMessagesCarryItsMetadata() throws {
        let capture = LogCapture()
        let logger = Logger(label: "test") { _ in CapturingLogHandler(capture: capture) }
        let channel = try channel(logger: logger)
        #expect(try send(connect(token: validToken), to: channel) == [0x20, 2, 0, 0])
        let reference = try #require(records.list.withLock { $0.first?.referenceID })
        let outside = PublishPacket(
            qos: .atLeastOnce, topic: "devices/dev-2/messages/events/", packetID: 7, payload: ByteBuffer(string: "x"))
        _ = try send(.publish(outside), to: channel)
        let logged = capture.messages.withLock { $0 }
        #expect(logged.map(\.message).contains("Connected."))
        for (message, metadata) in logged {
            #expect(metadata["peer.address"]?.description == "127.0.0.1", "\(message)")
            #expect(metadata["client.id"]?.description == "dev-1", "\(message)")
            // A denial names its own decision; the rest name the connection's authentication.
            if message.hasPrefix("Denied") {
                #expect(metadata["decision.ref"].map { "\($0)" } != reference, "\(message)")
            } else {
                #expect(metadata["decision.ref"]?.description == reference, "\(message)")
            }
            #expect(metadata["connection.id"]?.description == "1", "\(message)")
        }
        #expect(logged.map(\.message).contains { $0.hasPrefix("Denied") })
    }
}

/// A message keeps a payload of 1–8 KiB in storage of its own, not as a slice that pins the read buffer.
extension MQTTConnectionHandlerTests {
    @Test(arguments: [(100, false), (1024, true), (4096, true), (8192, true), (9000, false)])
    func midSizedPayloadsLeaveTheReadBuffer(bytes: Int, copied: Bool) throws {
        let read = ByteBuffer(repeating: 7, count: 16 * 1024)
        let payload = try #require(read.getSlice(at: 0, length: bytes))
        let kept = MQTTConnectionHandler.kept(payload, allocator: ByteBufferAllocator())
        #expect(kept == payload)
        let address = { (buffer: ByteBuffer) in buffer.withUnsafeReadableBytes { $0.baseAddress } }
        #expect((address(kept) != address(payload)) == copied)
    }
}

/// A PUBLISH allow the policy says stands is kept per topic until the authorizer's generation moves; refusals
/// and allows that do not stand are decided every time.
extension MQTTConnectionHandlerTests {
    /// Counts the PUBLISHes it decides; refuses them while `refuses`.
    final class CountingAuthorizer: Authorizer {
        struct State {
            var asked = 0
            var generation: UInt64 = 1
            var stands = true
            var refuses = false
        }
        let state = Mutex(State())

        func decide(_ request: AuthorizationRequest) -> Decision {
            guard request.action == .publish else { return .allow() }
            return state.withLock { state in
                state.asked += 1
                return state.refuses ? .deny(["refused for the test"]) : .allow()
            }
        }

        var generation: UInt64 { state.withLock { $0.generation } }
        func decisionsStand(in tenantID: TenantID) -> Bool { state.withLock { $0.stands } }
        var asked: Int { state.withLock { $0.asked } }
    }

    func publish(_ packetID: UInt16, topic: String) -> MQTTPacket {
        .publish(PublishPacket(qos: .atLeastOnce, topic: topic, packetID: packetID, payload: ByteBuffer(string: "x")))
    }

    @Test func aStandingAllowIsKeptUntilTheGenerationMoves() throws {
        let authorizer = CountingAuthorizer()
        let channel = try channel(authorizer: authorizer)
        #expect(try deliver([bytes([connect(token: validToken)])], to: channel) == [0x20, 2, 0, 0])
        _ = try deliver([bytes([publish(1), publish(2), publish(3)])], to: channel)
        #expect(authorizer.asked == 1)
        _ = try deliver([bytes([publish(4, topic: "devices/dev-1/messages/events/a=1"), publish(5)])], to: channel)
        #expect(authorizer.asked == 2)
        authorizer.state.withLock {
            $0.generation += 1
            $0.refuses = true
        }
        // 3.1.1 cannot refuse in a PUBACK: the refused PUBLISH ends the connection.
        _ = try deliver([bytes([publish(6)])], to: channel)
        #expect(authorizer.asked == 3)
        #expect(!channel.isActive)
    }

    @Test func allowsThatDoNotStandAndRefusalsAreDecidedEachTime() throws {
        let authorizer = CountingAuthorizer()
        authorizer.state.withLock { $0.stands = false }
        let channel = try channel(authorizer: authorizer)
        let topic = "devices/dev-1/messages/events/"
        let connack = try send(connect(token: validToken, version: .v5), version: .v5, to: channel)
        #expect(connack.first == 0x20 && connack.count > 3 && connack[3] == 0)
        for id: UInt16 in 1...2 { _ = try send(publish(id, topic: topic), version: .v5, to: channel) }
        #expect(authorizer.asked == 2)
        authorizer.state.withLock {
            $0.stands = true
            $0.refuses = true
        }
        for id: UInt16 in 3...4 {
            // 5.0 refuses in the PUBACK: 0x87 Not authorized.
            let reply = try send(publish(id, topic: topic), version: .v5, to: channel)
            #expect(reply.prefix(5) == [0x40, reply[1], 0, UInt8(id), 0x87])
        }
        #expect(authorizer.asked == 4)
        // Whether decisions stand is asked again in a new generation: from then on the allow is kept.
        authorizer.state.withLock {
            $0.generation += 1
            $0.refuses = false
        }
        for id: UInt16 in 5...7 { _ = try send(publish(id, topic: topic), version: .v5, to: channel) }
        #expect(authorizer.asked == 5)
        #expect(channel.isActive)
    }
}
