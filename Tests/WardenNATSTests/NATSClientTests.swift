import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import Testing
import WardenTestNATS

@testable import WardenNATS

/// The client against a real `nats-server`: messages both ways, queue groups, and what happens when the
/// server goes away and comes back.
@Suite(.serialized)
struct NATSClientTests {
    /// Messages a subscription received, to wait on.
    final class Inbox: Sendable {
        private let messages = Mutex<[String]>([])

        func add(_ message: NATSMessage) { messages.withLock { $0.append(String(buffer: message.payload)) } }
        var received: [String] { messages.withLock { $0 } }

        func wait(for count: Int) async -> [String] {
            for _ in 0..<200 where received.count < count { try? await Task.sleep(for: .milliseconds(10)) }
            return received
        }
    }

    private func client(
        _ server: TestNATSServer, name: String = "test", onConnected: @escaping @Sendable () -> Void = {}
    )
        -> NATSClient
    {
        var configuration = NATSClient.Configuration(
            servers: [.init(host: "127.0.0.1", port: server.port)], name: name)
        configuration.pingInterval = .milliseconds(200)
        let client = NATSClient(
            configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "nats"),
        )
        client.whenConnected(onConnected)
        client.start()
        return client
    }

    private func connected(_ client: NATSClient) async -> Bool {
        for _ in 0..<1_000 where !client.isConnected { try? await Task.sleep(for: .milliseconds(10)) }
        return client.isConnected
    }

    /// Returns once the server has applied what each of `subscribers` subscribed or unsubscribed so far: a probe
    /// each subscribes to after them hears `publisher` (a fixed pause was too short on a loaded machine).
    private func settled(_ subscribers: [NATSClient], for publisher: NATSClient) async -> Bool {
        for subscriber in subscribers {
            let probe = Inbox()
            let subject = "probe.\(UInt64.random(in: 0...UInt64.max))"
            guard let sid = subscriber.subscribe(subject, handler: { probe.add($0) }) else { return false }
            for _ in 0..<250 where probe.received.isEmpty {
                publisher.publish(subject, payload: ByteBuffer(string: "probe"))
                try? await Task.sleep(for: .milliseconds(20))
            }
            subscriber.unsubscribe(sid)
            guard !probe.received.isEmpty else { return false }
        }
        return true
    }

    @Test func deliversWhatAnotherClientPublishes() async throws {
        let server = try TestNATSServer()
        let (a, b) = (client(server), client(server))
        let inbox = Inbox()
        b.subscribe("warden.t.>") { inbox.add($0) }
        #expect(await connected(a))
        #expect(await connected(b))
        #expect(await settled([b], for: a))
        for index in 0..<100 {
            #expect(a.publish("warden.t.x.\(index % 3)", payload: ByteBuffer(string: "\(index)")))
        }
        #expect(await inbox.wait(for: 100) == (0..<100).map(String.init))
        await a.shutdown()
        await b.shutdown()
    }

    @Test func aNodeDoesNotHearItself() async throws {
        let server = try TestNATSServer()
        let a = client(server)
        let inbox = Inbox()
        a.subscribe("echo") { inbox.add($0) }
        #expect(await connected(a))
        a.publish("echo", payload: ByteBuffer(string: "x"))
        try await Task.sleep(for: .milliseconds(200))
        #expect(inbox.received.isEmpty)
        await a.shutdown()
    }

    @Test func aQueueGroupHasEachMessageOnce() async throws {
        let server = try TestNATSServer()
        let publisher = client(server)
        let members = [client(server), client(server)]
        let inbox = Inbox()
        for member in members { member.subscribe("work", queue: "nodes") { inbox.add($0) } }
        for participant in members + [publisher] { #expect(await connected(participant)) }
        #expect(await settled(members, for: publisher))
        for index in 0..<50 { publisher.publish("work", payload: ByteBuffer(string: "\(index)")) }
        let received = await inbox.wait(for: 50)
        try await Task.sleep(for: .milliseconds(100))
        #expect(received.sorted() == (0..<50).map(String.init).sorted())
        #expect(inbox.received.count == 50)
        for participant in members + [publisher] { await participant.shutdown() }
    }

    @Test func unsubscribedMessagesStop() async throws {
        let server = try TestNATSServer()
        let (a, b) = (client(server), client(server))
        let inbox = Inbox()
        let sid = try #require(b.subscribe("s") { inbox.add($0) })
        #expect(b.subscribe("two words") { _ in } == nil)
        #expect(await connected(a))
        #expect(await connected(b))
        #expect(await settled([b], for: a))
        a.publish("s", payload: ByteBuffer(string: "1"))
        #expect(await inbox.wait(for: 1) == ["1"])
        b.unsubscribe(sid)
        #expect(await settled([b], for: a))
        a.publish("s", payload: ByteBuffer(string: "2"))
        try await Task.sleep(for: .milliseconds(200))
        #expect(inbox.received == ["1"])
        await a.shutdown()
        await b.shutdown()
    }

    /// Down: sending says so (dropped, never queued without bound). Back: the client reconnects by itself,
    /// subscribes again and says it did.
    @Test func reconnectsAndResubscribesWhenTheServerComesBack() async throws {
        let server = try TestNATSServer()
        let connections = Atomic(0)
        let a = client(server)
        let b = client(server) { connections.add(1, ordering: .relaxed) }
        let inbox = Inbox()
        b.subscribe("again") { inbox.add($0) }
        #expect(await connected(a))
        #expect(await connected(b))
        server.stop()
        // Bounds for a loaded machine, not times the test asserts.
        for _ in 0..<1_000 where a.isConnected || b.isConnected { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!a.isConnected && !b.isConnected)
        #expect(!a.publish("again", payload: ByteBuffer(string: "lost")))
        try server.start()
        #expect(await connected(a))
        #expect(await connected(b))
        for _ in 0..<1_000 where connections.load(ordering: .relaxed) < 2 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(connections.load(ordering: .relaxed) == 2)
        #expect(await settled([b], for: a))
        a.publish("again", payload: ByteBuffer(string: "after"))
        #expect(await inbox.wait(for: 1) == ["after"])
        await a.shutdown()
        await b.shutdown()
    }

    /// TLS after INFO, the server's certificate verified: messages flow; a client without TLS and a client whose
    /// TLS does not trust the server are refused, and so is a server that does not offer TLS to a client that
    /// wants it — nothing is ever sent in the clear instead.
    @Test func speaksTLSOnlyWhenBothSidesDo() async throws {
        let certificates = try TestCertificates()
        let server = try TestNATSServer(tls: certificates)
        func client(_ tls: TLSConfiguration?, port: Int) -> NATSClient {
            var configuration = NATSClient.Configuration(servers: [.init(host: "localhost", port: port)], name: "tls")
            configuration.tls = tls
            configuration.connectTimeout = .milliseconds(500)
            let client = NATSClient(
                configuration: configuration, group: MultiThreadedEventLoopGroup.singleton,
                logger: Logger(label: "nats"))
            client.start()
            return client
        }
        var trusting = TLSConfiguration.makeClientConfiguration()
        trusting.trustRoots = .file(certificates.ca)
        let (a, b) = (client(trusting, port: server.port), client(trusting, port: server.port))
        let inbox = Inbox()
        b.subscribe("secret") { inbox.add($0) }
        #expect(await connected(a))
        #expect(await connected(b))
        #expect(await settled([b], for: a))
        a.publish("secret", payload: ByteBuffer(string: "over TLS"))
        #expect(await inbox.wait(for: 1) == ["over TLS"])

        let plain = client(nil, port: server.port)
        let untrusting = client(.makeClientConfiguration(), port: server.port)
        let clearServer = try TestNATSServer()
        let wantsTLS = client(trusting, port: clearServer.port)
        try await Task.sleep(for: .milliseconds(700))
        #expect(!plain.isConnected && !untrusting.isConnected && !wantsTLS.isConnected)
        for client in [a, b, plain, untrusting, wantsTLS] { await client.shutdown() }
    }

    /// A server that accepts the connection and then says nothing: the PINGs go unanswered and the client
    /// gives up on it instead of waiting forever.
    @Test func aSilentServerIsNotTakenForAConnection() async throws {
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        var configuration = NATSClient.Configuration(
            servers: [.init(host: "127.0.0.1", port: silent.localAddress?.port ?? 0)], name: "silent")
        configuration.connectTimeout = .milliseconds(100)
        let client = NATSClient(
            configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "nats"))
        client.start()
        try await Task.sleep(for: .milliseconds(300))
        #expect(!client.isConnected)
        #expect(!client.publish("x", payload: ByteBuffer()))
        await client.shutdown()
        try await silent.close()
    }

    /// A server that answers the handshake, then stops reading and sends PINGs: each PONG once waited for it
    /// without bound. Past `outboundLimit` waiting, the client closes the connection (and connects again).
    @Test func aServerThatSendsPingsWithoutReadingIsLeft() async throws {
        final class Flooder: ChannelInboundHandler, Sendable {
            typealias InboundIn = ByteBuffer
            let closed: EventLoopPromise<Void>
            init(closed: EventLoopPromise<Void>) { self.closed = closed }
            func channelActive(context: ChannelHandlerContext) {
                context.writeAndFlush(
                    NIOAny(ByteBuffer(string: #"INFO {"server_id":"flood","max_payload":1048576}"# + "\r\n")),
                    promise: nil)
                context.channel.closeFuture.cascade(to: closed)
            }
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                guard String(buffer: unwrapInboundIn(data)).contains("PING") else { return }
                // The handshake's PING is answered; from then on nothing is read and PINGs flow.
                context.writeAndFlush(NIOAny(ByteBuffer(string: "PONG\r\n")), promise: nil)
                context.channel.setOption(ChannelOptions.autoRead, value: false).whenSuccess {
                    Self.flood(context.channel)
                }
            }
            static func flood(_ channel: any Channel) {
                guard channel.isActive else { return }
                channel.writeAndFlush(ByteBuffer(string: String(repeating: "PING\r\n", count: 10_000)))
                    .whenSuccess { flood(channel) }
            }
        }
        let closed = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Flooder(closed: closed))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        var configuration = NATSClient.Configuration(
            servers: [.init(host: "127.0.0.1", port: server.localAddress?.port ?? 0)], name: "flooded")
        configuration.outboundLimit = 64 * 1024
        // Its own PINGs, unanswered, would end the connection too, later: not what is tested here.
        configuration.pingInterval = .seconds(60)
        let client = NATSClient(
            configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "nats"))
        client.start()
        let isClosed = Atomic(false)
        closed.futureResult.whenComplete { _ in isClosed.store(true, ordering: .relaxed) }
        for _ in 0..<2_000 where !isClosed.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(10)) }
        let wasClosed = isClosed.load(ordering: .relaxed)
        #expect(wasClosed, "the client kept the connection to a server reading nothing")
        await client.shutdown()
        try await server.close()
    }
}
