import Foundation
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
import WardenAuthentication
import WardenAzure
import WardenCore
import WardenMQTT
import WardenPolicy
import WardenSecurity
import WardenStore

@testable import WardenBroker
@testable import WardenHub

/// The hub's parts against a real SQLite file, with its writer running, and devices connected through
/// recorders instead of sockets.
final class HubFixture: Sendable {
    let loop = NIOAsyncTestingEventLoop()
    let database: SQLiteDatabase
    let persistence: BrokerPersistence
    let broker: Broker
    let bus = EventBus()
    let tenant = TenantID.defaultTenant
    private let writer: Mutex<Task<Void, any Error>?> = Mutex(nil)

    init() throws {
        let folder = FileManager.default.temporaryDirectory.appending(path: "warden-hub-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        database = try SQLiteDatabase(
            path: folder.appending(path: "warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()))
        persistence = BrokerPersistence(store: database, clock: SystemClock(), logger: Logger(label: "test"))
        broker = Broker(configuration: .init(), timers: loop, persistence: persistence)
        let persistence = self.persistence
        writer.withLock { $0 = Task { try await persistence.run() } }
    }

    deinit {
        writer.withLock { $0?.cancel() }
    }

    func sender(_ deviceID: DeviceID) -> DeviceSender {
        DeviceSender(tenantID: tenant, deviceID: deviceID, authMethod: .sas, dialect: .azure)
    }

    /// Device `deviceID` connected (clean session) and subscribed to `filters` at QoS 1.
    func connect(_ deviceID: DeviceID, subscribedTo filters: [String]) throws -> DeviceConnection {
        let identity = DeviceIdentity(
            tenantID: tenant, deviceID: deviceID, method: .sas, expiry: nil)
        let connection = DeviceConnection(
            identity: .device(identity), peerAddress: try #require(IPAddress("127.0.0.1")))
        let session = broker.open(
            SessionKey(tenantID: tenant, clientID: deviceID.rawValue), cleanStart: true, expiryInterval: 0,
            receiveMaximum: 100, sink: connection, now: .now()
        ).session
        _ = broker.subscribe(
            session,
            try filters.map { filter in
                Broker.SubscribeRequest(
                    filter: try TopicFilter(filter), options: SubscriptionOptions(qos: .atLeastOnce),
                    retainHandling: .doNotSend)
            })
        connection.session = session
        return connection
    }

    /// A device's PUBLISH of `payload` on `topic`.
    func message(_ topic: String, _ payload: String = "") -> BrokerMessage {
        BrokerMessage(
            topic: topic, payload: ByteBuffer(string: payload), qos: .atLeastOnce, retain: false,
            properties: Properties(), receivedAt: .now(), publisher: nil)
    }
}

/// A device's end of a connection: what the hub sent it.
final class DeviceConnection: ConnectionSink, @unchecked Sendable {
    private let sent = Mutex<[MQTTPacket]>([])
    let identity: ClientIdentity
    let peerAddress: IPAddress
    var policyContext: PolicyContext { PolicyContext(peerAddress: peerAddress) }
    /// Set once by `HubFixture.connect`, before any use.
    var session: Session?

    init(identity: ClientIdentity, peerAddress: IPAddress) {
        self.identity = identity
        self.peerAddress = peerAddress
    }

    func send(_ packets: [MQTTPacket]) { sent.withLock { $0 += packets } }
    func close(_ reason: ReasonCode, reasonString: String?) {}
    func caughtUp() -> EventLoopFuture<Void>? { nil }

    /// The PUBLISHes received so far.
    var publishes: [PublishPacket] {
        sent.withLock { $0.compactMap { if case .publish(let publish) = $0 { publish } else { nil } } }
    }

    /// Acknowledges every QoS 1 message received so far, as the device's PUBACKs would.
    func acknowledgeAll() {
        for publish in publishes {
            if let id = publish.packetID { _ = session?.acknowledge(.puback, packetID: id, now: .now()) }
        }
    }
}

/// The code of the `WardenError` that `body` throws; nil when it returns.
func errorCode(_ body: () async throws -> Void) async -> WardenError.Code? {
    do {
        try await body()
        return nil
    } catch {
        return (error as? WardenError)?.code
    }
}
