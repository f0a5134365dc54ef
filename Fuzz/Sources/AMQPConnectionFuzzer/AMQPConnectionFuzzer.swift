import Crypto
import Dispatch
import Foundation
import FuzzDriver
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import WardenAMQP
import WardenAuthentication
import WardenBroker
import WardenCore
import WardenHub
import WardenPolicy
import WardenRegistry
import WardenSecurity
import WardenStore

@testable import WardenAMQPEndpoint

/// One AMQP connection, in process: the real `AMQPConnectionHandler` over the hub's real services (registry,
/// broker, store, cloud-to-device queue, twins, methods, policy) on a thread-safe testing channel, no socket,
/// no TLS. Authentication runs off the event loop and comes back to it, as in the server, so the harness waits
/// for the handler's answers rather than stepping an embedded loop.
///
/// Input: byte 0, bit 0 chooses where the input starts: at the first byte of the connection (the protocol
/// headers, SASL, `open`: what anyone can send), or after a prologue that authenticates device `dev-1` with
/// SASL PLAIN and a valid SAS token and opens the connection and a session on channel 0 (so links, transfers,
/// dispositions, CBS and twin requests of an authenticated device are reached); byte 1 is the read size
/// (1…256); the rest is the stream. A `0xFE` byte advances the loop's clock by 30 s instead of being sent.
/// Invariant: nothing traps, and once the connection is closed it no longer counts against the endpoint's
/// pending connections.
private struct Harness: Sendable {
    let services: AMQPEndpointServices
    let key: SymmetricKey
    let loop: NIOAsyncTestingEventLoop

    static let shared: Harness = blocking { try await make() }

    /// The hub on a temporary SQLite file, with one SAS device, `dev-1`, in tenant host `hub.example`.
    static func make() async throws -> Harness {
        let folder = FileManager.default.temporaryDirectory.appending(path: "warden-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let database = try SQLiteDatabase(
            path: folder.appending(path: "warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()))
        let bus = EventBus()
        let directory = DeviceDirectory()
        directory.follow(bus)
        let registry = RegistryService(stores: .init(database), bus: bus, hubHostName: try HostName("hub.example"))
        _ = try await registry.ensureDefaultTenant()
        let device = try await registry.createDevice(.defaultTenant, .init(id: try DeviceID("dev-1")))
        guard case .sas(let keys) = device.authentication else { throw WardenError(.internalError, "not SAS") }
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        let persistence = BrokerPersistence(store: database, clock: SystemClock(), logger: logger)
        Task { try await persistence.run() }
        let broker = Broker(
            configuration: .init(), timers: MultiThreadedEventLoopGroup.singleton.next(), persistence: persistence)
        let cloudToDevice = try await CloudToDeviceService(
            configuration: .init(), store: database, persistence: persistence, broker: broker, clock: SystemClock(),
            logger: logger)
        let gateway = DeviceGateway(
            authenticator: DeviceAuthenticator(directory: directory), authorizer: PolicyAuthorizer(directory),
            broker: broker, persistence: persistence, cloudToDevice: cloudToDevice, events: bus, clock: SystemClock()
        ).speaking("amqp")
        let services = AMQPEndpointServices(
            gateway: gateway, methods: MethodService(broker: broker),
            twins: try await TwinService(
                store: database, persistence: persistence, broker: broker, clock: SystemClock()),
            settings: AMQPEndpointSettings(),
            pending: PendingConnections(limits: .init(perAddress: 1_000, total: 1_000)),
            limiter: ConnectRateLimiter(configuration: .init()), clock: SystemClock(), logger: logger,
            metrics: AMQPEndpointMetrics(), revocation: AMQPLiveRevocation(gateway: gateway),
            connections: AMQPConnectionCount())
        return Harness(
            services: services, key: SymmetricKey(data: keys.primary.bytes), loop: NIOAsyncTestingEventLoop())
    }

    /// SASL PLAIN as `dev-1` with a token valid for a minute, the AMQP header, `open` and a session.
    func prologue() -> ByteBuffer {
        let token = SASTokenSigner.token(
            resource: "hub.example/devices/dev-1", key: key, expiry: Date().unixSeconds + 60)
        var bytes = ByteBuffer()
        AMQPProtocolHeader.sasl.write(to: &bytes)
        let plain = ByteBuffer(bytes: [0] + Array("dev-1@sas.hub.example".utf8) + [0] + Array(token.utf8))
        bytes.writeAMQPFrame(
            AMQPFrame(kind: .sasl, performative: .saslInit(.init(mechanism: "PLAIN", initialResponse: plain))))
        AMQPProtocolHeader.amqp.write(to: &bytes)
        bytes.writeAMQPFrame(
            AMQPFrame(performative: .open(.init(containerID: "fuzz", hostname: "hub.example", maximumFrameSize: 4096))))
        bytes.writeAMQPFrame(
            AMQPFrame(
                performative: .begin(
                    .init(remoteChannel: nil, nextOutgoingID: 0, incomingWindow: 64, outgoingWindow: 64))))
        return bytes
    }
}

/// Runs `body` to its end from the fuzzer's synchronous thread.
private func blocking<Value: Sendable>(_ body: @escaping @Sendable () async throws -> Value) -> Value {
    let semaphore = DispatchSemaphore(value: 0)
    let result = Mutex<Result<Value, any Error>?>(nil)
    Task {
        let outcome: Result<Value, any Error>
        do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
        result.withLock { $0 = outcome }
        semaphore.signal()
    }
    semaphore.wait()
    switch result.withLock({ $0 }) {
    case .success(let value)?: return value
    case .failure(let error)?: preconditionFailure("\(error)")
    case nil: preconditionFailure("unreachable")
    }
}

/// Lets what the handler started off the loop (a token's check) come back and run: a few turns of the loop,
/// each after the tasks in flight had a chance to finish.
private func settle(_ loop: NIOAsyncTestingEventLoop) async {
    for _ in 0..<4 {
        await loop.run()
        await Task.yield()
    }
    try? await Task.sleep(for: .microseconds(200))
    await loop.run()
}

private func connect(_ input: [UInt8]) async {
    let harness = Harness.shared
    let channel = NIOAsyncTestingChannel(loop: harness.loop)
    guard let address = IPAddress("127.0.0.1") else { return }
    // As the listener does before it adds the handler, which releases the count.
    _ = harness.services.pending.admit(address)
    let services = harness.services
    guard
        (try? await harness.loop.executeInContext {
            try channel.pipeline.syncOperations.addHandler(
                AMQPConnectionHandler(services: services, peerAddress: address, presented: PresentedChain()))
        }) != nil,
        (try? await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))) != nil
    else { return }
    if input[0] & 1 == 1 {
        try? await channel.writeInbound(harness.prologue())
        await awaitBegin(channel, harness.loop)
    }
    let readSize = Int(input[1]) + 1
    var chunk: [UInt8] = []
    func send() async {
        guard !chunk.isEmpty, channel.isActive else { return }
        try? await channel.writeInbound(ByteBuffer(bytes: chunk))
        chunk.removeAll(keepingCapacity: true)
        await settle(harness.loop)
    }
    for byte in input.dropFirst(2) {
        if byte == 0xFE {
            await send()
            await harness.loop.advanceTime(by: .seconds(30))
            continue
        }
        chunk.append(byte)
        if chunk.count == readSize { await send() }
    }
    await send()
    while (try? await channel.readOutbound(as: ByteBuffer.self)) != nil {}
    try? await channel.close()
    await settle(harness.loop)
    // The socket's last bytes have `drainLimit` (2 s) to leave before it is closed anyway.
    await harness.loop.advanceTime(by: .seconds(3))
    precondition(harness.services.pending.count == 0, "a closed connection still counts as pending")
}

/// Waits, at most two seconds, for the answer to the prologue's `begin` (or the connection's end): the SASL
/// PLAIN check leaves the event loop, and what the input sends must follow it.
private func awaitBegin(_ channel: NIOAsyncTestingChannel, _ loop: NIOAsyncTestingEventLoop) async {
    var written: [UInt8] = []
    for _ in 0..<2_000 {
        await loop.run()
        while let bytes = try? await channel.readOutbound(as: ByteBuffer.self) { written += bytes.readableBytesView }
        let begin: [UInt8] = [0x00, 0x53, 0x11]
        if !channel.isActive || written.indices.contains(where: { written[$0...].starts(with: begin) }) { return }
        try? await Task.sleep(for: .milliseconds(1))
    }
}

/// The executable's entry point (SwiftPM's name for `main`): libFuzzer's driver with this target's input.
@_cdecl("AMQPConnectionFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    // The hub is made before the first input, so that what setting it up allocates for good (the registry's
    // first rows, the writer's task) is not taken for that input's leak.
    _ = Harness.shared
    return warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size >= 2 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    blocking { await connect(input) }
    return 0
}
