public import Logging
import Metrics
public import NIOCore
import NIOPosix
public import NIOSSL
import Synchronization

/// A NATS client on SwiftNIO for what the nodes say to each other: publish, subscribe (with queue groups), and
/// nothing that needs JetStream. It connects to the first server that answers, and again — to the next, with
/// a growing pause — whenever the connection ends, re-sending every subscription; `whenConnected`'s handler runs after
/// each (re)connection so that callers can make up for what they missed.
///
/// Sending never waits and never grows without bound: a message is written only while the client is
/// connected and fewer than `outboundLimit` bytes are waiting; otherwise it is dropped and counted
/// (`warden_nats_messages_dropped_total`), never silently.
public final class NATSClient: Sendable {
    public struct Server: Sendable, Hashable, CustomStringConvertible {
        public let host: String
        public let port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { "nats://\(host):\(port)" }
    }

    public struct Configuration: Sendable {
        public var servers: [Server]
        /// The connection's name in the server's monitoring.
        public var name: String
        public var user: String?
        public var password: String?
        /// Bytes that may wait to be written; past it, messages are dropped and counted.
        public var outboundLimit = 8 * 1024 * 1024
        public var reconnectDelay = TimeAmount.milliseconds(100)
        public var maximumReconnectDelay = TimeAmount.seconds(2)
        public var connectTimeout = TimeAmount.seconds(2)
        /// How often the client asks the server for a PONG; two unanswered and it reconnects.
        public var pingInterval = TimeAmount.seconds(2)
        public var parser = NATSOperationParser()
        /// TLS to the servers (their certificates verified against the host names in `servers`): the connection
        /// is upgraded after the server's INFO, as NATS does, and a server that does not offer TLS is refused
        /// rather than spoken to in the clear. Nil: no TLS, and a server that requires it is refused.
        public var tls: TLSConfiguration?

        public init(servers: [Server], name: String) {
            self.servers = servers
            self.name = name
        }
    }

    /// Why a message was not sent.
    public enum DropReason: String, Error, CaseIterable {
        case disconnected
        case outboundFull = "outbound_full"
        case tooLarge = "too_large"
        case invalidSubject = "invalid_subject"
    }

    struct Subscription {
        let subject: String
        let queue: String?
        let handler: @Sendable (NATSMessage) -> Void
    }

    struct State {
        var subscriptions: [UInt64: Subscription] = [:]
        var nextSID: UInt64 = 0
        /// The connection once its handshake is done; nil while connecting.
        var ready: (any Channel)?
        /// The connection being set up, so that subscriptions made meanwhile reach it in order.
        var handshaking: (any Channel)?
        /// The connection open now, from its TCP connect on: what `shutdown` closes.
        var current: (any Channel)?
        var pending = ByteBuffer()
        var flushScheduled = false
        var maximumPayload = Int.max
        var isShutDown = false
        /// Handshakes completed, so that the reconnect loop can tell a connection that worked.
        var handshakes = 0
    }

    let configuration: Configuration
    let group: any EventLoopGroup
    let logger: Logger
    let state = Mutex(State())
    private let onConnected = Mutex<@Sendable () -> Void>({})
    private let runner = Mutex<Task<Void, Never>?>(nil)
    private let dropped: [DropReason: Counter]
    private let sent = Counter(label: "warden_nats_messages_sent_total")
    private let received = Counter(label: "warden_nats_messages_received_total")
    private let connections = Counter(label: "warden_nats_connections_total")

    public init(configuration: Configuration, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.dropped = Dictionary(
            uniqueKeysWithValues: DropReason.allCases.map {
                ($0, Counter(label: "warden_nats_messages_dropped_total", dimensions: [("reason", $0.rawValue)]))
            })
    }

    /// Runs `handler` after each connection's handshake (the first and every reconnection), on its event loop.
    public func whenConnected(_ handler: @escaping @Sendable () -> Void) {
        onConnected.withLock { $0 = handler }
    }

    /// Starts connecting (and reconnecting) in the background.
    public func start() {
        let task = Task { await self.connectForever() }
        runner.withLock { $0 = task }
    }

    /// Whether the connection is up and its handshake done.
    public var isConnected: Bool { state.withLock { $0.ready != nil } }

    /// Closes the connection and stops reconnecting.
    public func shutdown() async {
        let channel = state.withLock { state -> (any Channel)? in
            state.isShutDown = true
            return state.current
        }
        let task = runner.withLock { $0 }
        task?.cancel()
        try? await channel?.close()
        await task?.value
    }

    /// Delivers every message on `subject` (in `queue`'s group: one member each) to `handler`, on the
    /// connection's event loop, from now on and across reconnections. Nil when the subject or group is not one
    /// the protocol can carry (`NATSSubject`).
    @discardableResult
    public func subscribe(
        _ subject: String, queue: String? = nil, handler: @escaping @Sendable (NATSMessage) -> Void
    ) -> UInt64? {
        guard NATSSubject.isValid(subject), queue.map(NATSSubject.isValid) ?? true else { return nil }
        let sid = state.withLock { state in
            state.nextSID += 1
            state.subscriptions[state.nextSID] = Subscription(subject: subject, queue: queue, handler: handler)
            return state.nextSID
        }
        control(.subscribe(subject: subject, queue: queue, sid: sid))
        return sid
    }

    /// Stops a subscription.
    public func unsubscribe(_ sid: UInt64) {
        guard state.withLock({ $0.subscriptions.removeValue(forKey: sid) }) != nil else { return }
        control(.unsubscribe(sid: sid))
    }

    /// Queues a subscription change. Dropping one would route wrongly without a trace, so when `outboundLimit`
    /// bytes already wait (a server that stopped reading) the connection is closed instead: the next one sends
    /// every subscription afresh.
    private func control(_ command: NATSCommand) {
        queue(command, only: nil)
    }

    /// Queues what may not be dropped (a subscription change, an answer to the server's PING) for `only` that
    /// connection, if given, closing the connection when `outboundLimit` bytes already wait.
    private func queue(_ command: NATSCommand, only: (any Channel)?) {
        let (flush, overrun) = state.withLock { state -> ((any Channel)?, (any Channel)?) in
            let flush = Self.enqueue(command, in: &state, only: only)
            let overrun = state.pending.readableBytes > configuration.outboundLimit ? state.current : nil
            return (flush, overrun)
        }
        flush.map(scheduleFlush)
        if let overrun {
            logger.error("NATS is not reading what this node sends; connecting again")
            overrun.close(promise: nil)
        }
    }

    /// Sends `payload` on `subject`; false (and counted) when it was dropped.
    @discardableResult
    public func publish(_ subject: String, payload: ByteBuffer, replyTo: String? = nil) -> Bool {
        guard NATSSubject.isValid(subject), replyTo.map(NATSSubject.isValid) ?? true else {
            dropped[.invalidSubject]?.increment()
            return false
        }
        let outcome = state.withLock { state -> Result<(any Channel)?, DropReason> in
            guard state.ready != nil else { return .failure(.disconnected) }
            guard payload.readableBytes <= state.maximumPayload else { return .failure(.tooLarge) }
            guard state.pending.readableBytes + payload.readableBytes <= configuration.outboundLimit else {
                return .failure(.outboundFull)
            }
            return .success(Self.enqueue(.publish(subject: subject, replyTo: replyTo, payload: payload), in: &state))
        }
        switch outcome {
        case .success(let flush):
            sent.increment()
            flush.map(scheduleFlush)
            return true
        case .failure(let reason):
            dropped[reason]?.increment()
            return false
        }
    }

    /// Appends a command to what waits to be written (for `only` that connection, if given); returns the channel
    /// to flush when no flush is scheduled. Nothing is queued while no connection is set up: the handshake sends
    /// every subscription anyway.
    private static func enqueue(_ command: NATSCommand, in state: inout State, only: (any Channel)? = nil) -> (
        any Channel
    )? {
        guard let channel = state.ready ?? state.handshaking, only.map({ $0 === channel }) ?? true else { return nil }
        command.write(into: &state.pending)
        guard !state.flushScheduled else { return nil }
        state.flushScheduled = true
        return channel
    }

    /// Writes what waits, once per event-loop turn however many commands were queued, and only while the
    /// channel takes it: otherwise it stays counted against `outboundLimit` until the channel is writable.
    func scheduleFlush(_ channel: any Channel) {
        channel.eventLoop.execute {
            let bytes = self.state.withLock { state -> ByteBuffer? in
                // What waits belongs to the connection set up now, never to one that ended meanwhile.
                guard state.ready === channel || state.handshaking === channel else { return nil }
                state.flushScheduled = false
                guard channel.isWritable, state.pending.readableBytes > 0 else { return nil }
                defer { state.pending = ByteBuffer() }
                return state.pending
            }
            if let bytes { channel.writeAndFlush(bytes, promise: nil) }
        }
    }

    /// Connects, waits for the connection to end, and connects again, until shut down.
    private func connectForever() async {
        var delay = configuration.reconnectDelay
        var attempt = 0
        while !Task.isCancelled, !state.withLock({ $0.isShutDown }) {
            let server = configuration.servers[attempt % max(configuration.servers.count, 1)]
            attempt += 1
            do {
                let handshakes = state.withLock { $0.handshakes }
                let channel = try await ClientBootstrap(group: group)
                    .connectTimeout(configuration.connectTimeout)
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                NATSConnectionHandler(client: self, host: server.host))
                        }
                    }
                    .connect(host: server.host, port: server.port).get()
                let isShutDown = state.withLock { state in
                    state.current = channel
                    return state.isShutDown
                }
                if isShutDown { try? await channel.close() }
                try? await channel.closeFuture.get()
                state.withLock { state in if state.current === channel { state.current = nil } }
                if state.withLock({ $0.handshakes }) > handshakes { delay = configuration.reconnectDelay }
                logger.warning("The connection to NATS ended", metadata: ["server": "\(server)"])
            } catch {
                logger.info("NATS did not answer", metadata: ["server": "\(server)", "error": "\(error)"])
            }
            guard !state.withLock({ $0.isShutDown }) else { return }
            try? await Task.sleep(nanoseconds: UInt64(clamping: delay.nanoseconds))
            delay = min(delay * 2, configuration.maximumReconnectDelay)
        }
    }

    // MARK: Called by the connection handler, on the channel's event loop.

    /// The server's INFO arrived: CONNECT, every subscription and a PING go out before anything else.
    func beginHandshake(on channel: any Channel, maximumPayload: Int, connect: String) {
        let flush = state.withLock { state -> (any Channel)? in
            guard !state.isShutDown else { return nil }
            state.handshaking = channel
            state.maximumPayload = maximumPayload
            var opening = ByteBuffer()
            NATSCommand.connect(json: connect).write(into: &opening)
            for (sid, subscription) in state.subscriptions.sorted(by: { $0.key < $1.key }) {
                NATSCommand.subscribe(subject: subscription.subject, queue: subscription.queue, sid: sid)
                    .write(into: &opening)
            }
            NATSCommand.ping.write(into: &opening)
            state.pending = opening
            state.flushScheduled = true
            return channel
        }
        flush.map(scheduleFlush)
    }

    /// The handshake's PONG arrived: the client is connected.
    func handshakeDone(on channel: any Channel) {
        state.withLock { state in
            state.handshaking = nil
            state.ready = channel
            state.handshakes += 1
        }
        connections.increment()
        logger.info("Connected to NATS", metadata: ["address": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
        onConnected.withLock { $0 }()
    }

    func connectionEnded(_ channel: any Channel) {
        state.withLock { state in
            guard state.ready === channel || state.handshaking === channel else { return }
            state.ready = nil
            state.handshaking = nil
            state.pending = ByteBuffer()
            state.flushScheduled = false
        }
    }

    /// Sends a command on `channel` (the handshake's, the answers to the server's PINGs): a server that sends
    /// PINGs without reading the PONGs would otherwise grow what waits without bound.
    func send(_ command: NATSCommand, on channel: any Channel) {
        queue(command, only: channel)
    }

    /// Hands a message to its subscription's handler (none once unsubscribed: the server may still have sent it).
    func dispatch(_ message: NATSMessage) {
        received.increment()
        state.withLock { $0.subscriptions[message.subscription]?.handler }?(message)
    }
}
