import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
import NIOSSL
import Synchronization
import Testing
import WardenCore
import WardenSecurity
import WardenTLS

/// `TLSServerHandler` on real sockets, against swift-nio-ssl's client (BoringSSL on the other side, so the two
/// ends share no code of ours).
@Suite(.serialized)
struct TLSServerHandlerTests {
    @Test(arguments: [TLSVersion.tlsv12, .tlsv13])
    func dataGoesBothWaysInOrder(_ version: TLSVersion) async throws {
        try await withServer { server in
            let client = try await server.connect(maximumVersion: version)
            var message = ByteBuffer()
            for index in 0..<30_000 { message.writeInteger(UInt32(index)) }  // 120,000 bytes, several records
            try await client.channel.writeAndFlush(message)
            let echoed = try await client.read(count: message.readableBytes)
            #expect(echoed == message)
            let facts = try await server.facts()
            #expect(facts.version == (version == .tlsv13 ? "1.3" : "1.2"))
            #expect(facts.cipher?.hasPrefix("TLS_") == true)
            try await client.channel.close()
        }
    }

    @Test func smallWritesBetweenFlushesShareOneRecord() async throws {
        try await withServer(answer: .hundredSmallWrites) { server in
            // TLS 1.2: TLS 1.3 sends its encrypted handshake messages as application data too.
            let client = try await server.connect(maximumVersion: .tlsv12)
            try await client.channel.writeAndFlush(ByteBuffer(string: "go"))
            let answer = try await client.read(count: 400)
            #expect(answer.readableBytes == 400)
            // The one answer, in one application-data record.
            #expect(client.records.withLock { $0.applicationData } == 1)
        }
    }

    @Test func aPresentedChainIsCheckedBeforeTheClientIsRead() async throws {
        let gate = Gate()
        let check: TLSServerHandler.ChainCheck = { chain in
            gate.saw(chain)
            await gate.wait()
        }
        try await withServer(check: check) { server in
            let identity = try Identity.make()
            let client = try await server.connect(maximumVersion: .tlsv13, certificate: identity)
            try await client.channel.writeAndFlush(ByteBuffer(string: "after the handshake"))
            try await gate.checked()
            #expect(gate.chain.first == identity.der)
            // Nothing is passed on while the check runs.
            try await Task.sleep(for: .milliseconds(50))
            #expect(server.received.withLock { $0.readableBytes } == 0)
            gate.open()
            let echoed = try await client.read(count: 19)
            #expect(String(buffer: echoed) == "after the handshake")
        }
    }

    @Test func aContextWithCallbacksItsConnectionsCannotServeIsRefused() throws {
        var configuration = try serverConfiguration()
        _ = try TLSServerContext(configuration: configuration)
        configuration.keyLogCallback = { _ in }
        #expect(throws: WardenError.self) { try TLSServerContext(configuration: configuration) }
    }

    @Test func bytesThatAreNotTLSFailTheConnection() async throws {
        let answer = try await hostileClient(sends: Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)) { failure in
            #expect(failure.contains("HTTP_REQUEST"))
        }
        // Not a TLS peer: no alert.
        #expect(answer.readableBytes == 0)
    }

    @Test func aMalformedClientHelloIsAnsweredWithAnAlert() async throws {
        // A handshake record holding a ClientHello of length 0.
        let answer = try await hostileClient(sends: [22, 3, 1, 0, 4, 1, 0, 0, 0]) { failure in
            #expect(failure.contains("CLIENTHELLO_PARSE_FAILED"))
        }
        #expect(answer.getInteger(at: 0, as: UInt8.self) == 21)  // an alert record
        #expect(answer.getInteger(at: 6, as: UInt8.self) == 50)  // decode_error
    }

    /// Sends `bytes` on a plain connection; returns what the server answered before it closed.
    private func hostileClient(sends bytes: [UInt8], _ inspect: (String) -> Void) async throws -> ByteBuffer {
        var answer = ByteBuffer()
        try await withServer { server in
            let collector = Collector()
            let raw = try await ClientBootstrap(group: server.group)
                .channelInitializer { $0.pipeline.addHandler(collector) }
                .connect(host: "127.0.0.1", port: server.port).get()
            try await raw.writeAndFlush(ByteBuffer(bytes: bytes))
            try await raw.closeFuture.get()
            answer = collector.bytes.withLock { $0 }
            inspect(try await server.failure())
        }
        return answer
    }

    @Test func aServerCloseSendsCloseNotify() async throws {
        try await withServer(answer: .closeAfterReading) { server in
            let client = try await server.connect(maximumVersion: .tlsv13)
            try await client.channel.writeAndFlush(ByteBuffer(string: "bye"))
            try await client.channel.closeFuture.get()
            // swift-nio-ssl reports a close without close_notify as an unclean shutdown.
            #expect(client.errors.withLock { $0.isEmpty })
        }
    }

    @Test func aClientsCloseNotifyClosesTheConnection() async throws {
        try await withServer { server in
            let client = try await server.connect(maximumVersion: .tlsv12)
            try await client.channel.writeAndFlush(ByteBuffer(string: "x"))
            _ = try await client.read(count: 1)
            try await client.channel.close()
            try await server.closed()
        }
    }
}

// MARK: Fixture

/// A development CA's server certificate, a client certificate asked for but not required (as the listeners do).
private func serverConfiguration() throws -> TLSConfiguration {
    let (_, issued) = try DevelopmentCA.generate(now: Date())
    var configuration = TLSConfiguration.makeServerConfiguration(
        certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(issued.certificatePEM.utf8)).map {
            .certificate($0)
        },
        privateKey: .privateKey(try NIOSSLPrivateKey(bytes: issued.privateKeyPEM.bytes, format: .pem)))
    configuration.certificateVerification = .optionalVerification
    return configuration
}

private enum Answer: Sendable {
    case echo
    case hundredSmallWrites
    case closeAfterReading
}

private func withServer(
    answer: Answer = .echo, check: @escaping TLSServerHandler.ChainCheck = { _ in },
    _ body: (Server) async throws -> Void
) async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let context = try TLSServerContext(configuration: try serverConfiguration())
    let server = Server(group: group)
    let channel = try await ServerBootstrap(group: group)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let tls = try TLSServerHandler(context: context, checkChain: check)
                try channel.pipeline.syncOperations.addHandlers([
                    tls, ServerEnd(answer: answer, server: server, tls: tls),
                ])
            }
        }
        .bind(host: "127.0.0.1", port: 0).get()
    guard let port = channel.localAddress?.port else { throw ChannelError.inappropriateOperationForState }
    server.port = port
    do {
        try await body(server)
    } catch {
        try? await channel.close()
        try? await group.shutdownGracefully()
        throw error
    }
    try await channel.close()
    try await group.shutdownGracefully()
}

private final class Server: @unchecked Sendable {
    let group: MultiThreadedEventLoopGroup
    var port = 0
    let received = Mutex(ByteBuffer())
    let events = Mutex([Event]())

    enum Event: Sendable {
        case facts(version: String?, cipher: String?)
        case failure(String)
        case closed
    }

    init(group: MultiThreadedEventLoopGroup) { self.group = group }

    func record(_ event: Event) { events.withLock { $0.append(event) } }

    func connect(maximumVersion: TLSVersion, certificate: Identity? = nil) async throws -> Client {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        configuration.maximumTLSVersion = maximumVersion
        if let certificate {
            configuration.certificateChain = [.certificate(certificate.certificate)]
            configuration.privateKey = .privateKey(certificate.key)
        }
        let context = try NIOSSLContext(configuration: configuration)
        let client = Client()
        client.channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        RecordCounter(client: client), try NIOSSLClientHandler(context: context, serverHostname: nil),
                        ClientEnd(client: client),
                    ])
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return client
    }

    func facts() async throws -> (version: String?, cipher: String?) {
        try await first { if case .facts(let version, let cipher) = $0 { (version, cipher) } else { nil } }
    }

    func failure() async throws -> String {
        try await first { if case .failure(let text) = $0 { text } else { nil } }
    }

    func closed() async throws {
        try await first { if case .closed = $0 { () } else { nil } }
    }

    private func first<T>(_ match: (Event) -> T?) async throws -> T {
        for _ in 0..<500 {
            let seen = events.withLock { $0 }
            if let found = seen.lazy.compactMap(match).first { return found }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw CancellationError()
    }
}

private final class Client: @unchecked Sendable {
    private var connected: (any Channel)?
    var channel: any Channel {
        get {
            guard let connected else { preconditionFailure("not connected") }
            return connected
        }
        set { connected = newValue }
    }
    let bytes = Mutex(ByteBuffer())
    let errors = Mutex([String]())
    let records = Mutex(RecordCounter.Counts())

    func read(count: Int) async throws -> ByteBuffer {
        for _ in 0..<500 {
            let have = bytes.withLock { $0 }
            if have.readableBytes >= count { return have }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("only \(bytes.withLock { $0.readableBytes }) of \(count) bytes arrived")
        return bytes.withLock { $0 }
    }
}

/// Counts the TLS records the server sends, by their headers (type 23: application data).
private final class RecordCounter: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    struct Counts {
        var pending = ByteBuffer()
        var applicationData = 0
    }

    let client: Client
    init(client: Client) { self.client = client }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        client.records.withLock { counts in
            counts.pending.writeImmutableBuffer(buffer)
            while let type = counts.pending.getInteger(at: counts.pending.readerIndex, as: UInt8.self),
                let length = counts.pending.getInteger(at: counts.pending.readerIndex + 3, as: UInt16.self),
                counts.pending.readableBytes >= 5 + Int(length)
            {
                if type == 23 { counts.applicationData += 1 }
                counts.pending.moveReaderIndex(forwardBy: 5 + Int(length))
            }
        }
        context.fireChannelRead(data)
    }
}

private final class ClientEnd: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let client: Client
    init(client: Client) { self.client = client }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        _ = client.bytes.withLock { $0.writeBuffer(&buffer) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        client.errors.withLock { $0.append("\(error)") }
    }
}

private final class ServerEnd: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let answer: Answer
    let server: Server
    let tls: TLSServerHandler

    init(answer: Answer, server: Server, tls: TLSServerHandler) {
        self.answer = answer
        self.server = server
        self.tls = tls
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        server.record(.facts(version: tls.negotiatedVersion, cipher: tls.negotiatedCipherSuite))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        _ = server.received.withLock { $0.writeImmutableBuffer(buffer) }
        switch answer {
        case .echo:
            context.write(data, promise: nil)
        case .hundredSmallWrites:
            for index in 0..<100 { context.write(wrapOutboundOut(ByteBuffer(integer: UInt32(index))), promise: nil) }
        case .closeAfterReading:
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        server.record(.failure("\(error)"))
    }

    func channelInactive(context: ChannelHandlerContext) {
        server.record(.closed)
    }
}

private final class Collector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let bytes = Mutex(ByteBuffer())

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        _ = bytes.withLock { $0.writeBuffer(&buffer) }
    }
}

/// Holds a chain check until the test opens it.
private final class Gate: Sendable {
    private let state = Mutex<(chain: [[UInt8]], seen: Bool, waiter: CheckedContinuation<Void, Never>?, isOpen: Bool)>(
        ([], false, nil, false))

    var chain: [[UInt8]] { state.withLock { $0.chain } }

    func saw(_ chain: [[UInt8]]) {
        state.withLock {
            $0.chain = chain
            $0.seen = true
        }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state in
                if state.isOpen { return true }
                state.waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func checked() async throws {
        for _ in 0..<500 where !state.withLock({ $0.seen }) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(state.withLock { $0.seen })
    }

    func open() {
        let waiter = state.withLock { state in
            state.isOpen = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}

/// A client certificate: one of a development CA's server certificates serves, since any chain passes the
/// handshake.
private struct Identity {
    let certificate: NIOSSLCertificate
    let key: NIOSSLPrivateKey
    let der: [UInt8]

    static func make() throws -> Identity {
        let (_, issued) = try DevelopmentCA.generate(now: Date())
        let certificate = try NIOSSLCertificate(bytes: Array(issued.certificatePEM.utf8), format: .pem)
        return Identity(
            certificate: certificate, key: try NIOSSLPrivateKey(bytes: issued.privateKeyPEM.bytes, format: .pem),
            der: try certificate.toDERBytes())
    }
}

/// The handler on embedded channels, against swift-nio-ssl's client, bytes moved by hand: for the orders of
/// writes, flushes and closes that sockets make hard to pin.
struct TLSServerHandlerOrderTests {
    @Test func aSmallWritesPromiseWaitsForItsRecordToBeWritten() throws {
        let pair = try EmbeddedPair()
        try pair.handshake()
        let written = pair.server.eventLoop.makePromise(of: Void.self)
        var done = false
        written.futureResult.whenSuccess { done = true }
        pair.server.write(ByteBuffer(string: "small"), promise: written)
        // A read in between flushes nothing of it.
        pair.client.writeAndFlush(ByteBuffer(string: "ping"), promise: nil)
        pair.move(from: pair.client, to: pair.server)
        pair.move(from: pair.server, to: pair.client)
        #expect(!done)
        #expect(pair.clientSink.received.readableBytes == 0)
        pair.server.flush()
        #expect(done)
        pair.move(from: pair.server, to: pair.client)
        #expect(String(buffer: pair.clientSink.received) == "small")
    }

    @Test func anAnswerWrittenBeforeTheClientsCloseNotifyGoesOutBeforeOurs() throws {
        let pair = try EmbeddedPair(serverAnswers: true)
        try pair.handshake()
        pair.client.writeAndFlush(ByteBuffer(string: "question"), promise: nil)
        pair.client.close(promise: nil)
        pair.move(from: pair.client, to: pair.server)  // the record and the client's close_notify, in one read
        #expect(!pair.server.isActive)
        pair.move(from: pair.server, to: pair.client)
        #expect(String(buffer: pair.clientSink.received) == "answer")
    }

    @Test func aCloseCompletesWhenTheClientAnswersCloseNotify() throws {
        let pair = try EmbeddedPair()
        try pair.handshake()
        let closed = pair.closeServer()
        #expect(pair.server.isActive && !closed.isDone)
        pair.move(from: pair.server, to: pair.client)  // our close_notify; the client answers with its own
        pair.move(from: pair.client, to: pair.server)
        #expect(closed.isDone && !pair.server.isActive)
    }

    @Test func aCloseCompletesAfterTheWaitWhenTheClientSaysNothing() throws {
        let pair = try EmbeddedPair()
        try pair.handshake()
        let closed = pair.closeServer()
        pair.server.embeddedEventLoop.advanceTime(by: TLSServerHandler.closeNotifyWait - .milliseconds(1))
        #expect(!closed.isDone)
        pair.server.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(closed.isDone && !pair.server.isActive)
    }

    @Test func writesMadeDuringTheHandshakeGoOutInOrderOnceItEnds() throws {
        let pair = try EmbeddedPair()
        pair.server.write(ByteBuffer(string: "one "), promise: nil)
        pair.server.writeAndFlush(ByteBuffer(repeating: UInt8(ascii: "x"), count: 5_000), promise: nil)
        try pair.handshake()
        pair.move(from: pair.server, to: pair.client)
        let received = pair.clientSink.received
        #expect(received.readableBytes == 5_004)
        #expect(received.getString(at: received.readerIndex, length: 4) == "one ")
    }
}

private final class EmbeddedPair {
    let server: EmbeddedChannel
    let client: EmbeddedChannel
    let clientSink = Sink()

    init(serverAnswers: Bool = false) throws {
        let tls = try TLSServerHandler(context: try TLSServerContext(configuration: try serverConfiguration())) { _ in }
        server = EmbeddedChannel(handlers: serverAnswers ? [tls, Answerer()] : [tls])
        var clientConfiguration = TLSConfiguration.makeClientConfiguration()
        clientConfiguration.certificateVerification = .none
        client = EmbeddedChannel(handlers: [
            try NIOSSLClientHandler(
                context: try NIOSSLContext(configuration: clientConfiguration), serverHostname: nil),
            clientSink,
        ])
        try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
    }

    /// Closes the server; `isDone` once the close succeeded.
    func closeServer() -> Completion {
        let closed = server.eventLoop.makePromise(of: Void.self)
        let completion = Completion()
        closed.futureResult.whenSuccess { completion.isDone = true }
        server.close(promise: closed)
        return completion
    }

    final class Completion {
        var isDone = false
    }

    func handshake() throws {
        for _ in 0..<4 {
            move(from: client, to: server)
            move(from: server, to: client)
        }
    }

    func move(from source: EmbeddedChannel, to target: EmbeddedChannel) {
        while let bytes = try? source.readOutbound(as: ByteBuffer.self) {
            if target.isActive { _ = try? target.writeInbound(bytes) }
        }
    }

    /// Answers a read with a write and no flush.
    final class Answerer: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.write(wrapOutboundOut(ByteBuffer(string: "answer")), promise: nil)
        }
    }

    final class Sink: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var received = ByteBuffer()

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            received.writeBuffer(&bytes)
        }
    }
}
