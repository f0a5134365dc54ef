import Crypto
import Dispatch
import Foundation
import FuzzDriver
import Logging
import NIOCore
import NIOEmbedded
import WardenAuthentication
import WardenCore
import WardenMQTT
import WardenPolicy
import WardenRegistry
import WardenSecurity
import WardenStore

@testable import WardenBroker

/// One device connection, in process: the real handler, state machine, broker, registry and authorizer on an
/// embedded channel, no sockets. Each input is one connection: a valid CONNECT for device `dev-1` (SAS, so the
/// PUBLISH, SUBSCRIBE and AUTH paths are reached), then the input's bytes as what the device sends, cut into
/// reads at the input's own choosing, with time advanced between reads (keep-alive, credential expiry).
///
/// Input: byte 0 chooses the version (bit 0: 5.0) and whether the CONNECT asks for AUTH (bit 1); byte 1 is the
/// read size (1…256); the rest is the stream. A `0xFE` byte in the stream advances the clock by 30 s instead of
/// being sent. Invariant: nothing traps, and the handler is done with the channel once it closes.
private struct Harness {
    let directory: DeviceDirectory
    let bus: EventBus
    let loop: EmbeddedEventLoop
    let key: SymmetricKey

    /// Built once, on the fuzzing thread: an embedded event loop may only be used from the thread that made it.
    static let shared: Harness = {
        let semaphore = DispatchSemaphore(value: 0)
        let box = Box()
        Task {
            box.registry = try? await makeRegistry()
            semaphore.signal()
        }
        semaphore.wait()
        guard let (directory, bus, key) = box.registry else { preconditionFailure("the registry could not be made") }
        return Harness(directory: directory, bus: bus, loop: EmbeddedEventLoop(), key: key)
    }()

    /// A fresh broker for each input, so that no input's retained messages or sessions slow the next.
    func services() -> ConnectionServices {
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        return ConnectionServices(
            broker: Broker(configuration: .init(), timers: loop),
            authenticator: DeviceAuthenticator(directory: directory), authorizer: PolicyAuthorizer(FixedPolicyFacts()),
            limiter: ConnectRateLimiter(configuration: .init()),
            pending: PendingConnections(limits: .init(perAddress: 1_000, total: 1_000)),
            listener: MQTTListener.Configuration(name: "fuzz", host: "127.0.0.1", port: 0), clock: SystemClock(),
            logger: logger, connectionIDs: ConnectionIDs(), events: bus)
    }

    final class Box: @unchecked Sendable {
        var registry: (DeviceDirectory, EventBus, SymmetricKey)?
    }

    /// A registry on a temporary SQLite file with one SAS device, `dev-1`, in tenant host `hub.example`.
    static func makeRegistry() async throws -> (DeviceDirectory, EventBus, SymmetricKey) {
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
        return (directory, bus, SymmetricKey(data: keys.primary.bytes))
    }

    func connect(version: ProtocolVersion, asksForAuth: Bool) -> ByteBuffer {
        let token = SASTokenSigner.token(
            resource: "hub.example/devices/dev-1", key: key, expiry: Date().unixSeconds + 45)
        var properties = Properties()
        if asksForAuth, version == .v5 { properties.authenticationMethod = "SAS" }
        let connect = ConnectPacket(
            protocolVersion: version, cleanStart: true, keepAlive: 20, clientID: "dev-1",
            username: "hub.example/dev-1/?api-version=2021-04-12", password: Array(token.utf8), properties: properties)
        var buffer = ByteBuffer()
        _ = try? MQTTEncoder.encode(.connect(connect), version: version, into: &buffer)
        return buffer
    }
}

/// The executable's entry point (SwiftPM's name for `main`): libFuzzer's driver with this target's input.
@_cdecl("ConnectionFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    guard size >= 2 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let harness = Harness.shared
    let version: ProtocolVersion = input[0] & 1 == 1 ? .v5 : .v311
    let readSize = Int(input[1]) + 1
    let channel = EmbeddedChannel(loop: harness.loop)
    let handler = MQTTConnectionHandler(
        services: harness.services(), peerAddress: IPAddress("127.0.0.1")!, usesTLS: true, presented: PresentedChain())
    guard (try? channel.pipeline.syncOperations.addHandler(handler)) != nil,
        (try? channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()) != nil
    else { return 0 }
    _ = try? channel.writeInbound(harness.connect(version: version, asksForAuth: input[0] & 2 == 2))
    harness.loop.run()
    var chunk: [UInt8] = []
    func flush() {
        guard !chunk.isEmpty, channel.isActive else { return }
        _ = try? channel.writeInbound(ByteBuffer(bytes: chunk))
        chunk.removeAll(keepingCapacity: true)
        harness.loop.run()
    }
    for byte in input.dropFirst(2) {
        if byte == 0xFE {
            flush()
            harness.loop.advanceTime(by: .seconds(30))
            continue
        }
        chunk.append(byte)
        if chunk.count == readSize { flush() }
    }
    flush()
    while (try? channel.readOutbound(as: ByteBuffer.self)) != nil {}
    _ = try? channel.close().wait()
    harness.loop.run()
    return 0
}
