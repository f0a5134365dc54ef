import Logging
import NIOCore
import NIOTLS
import WardenAuthentication
import WardenCore
import WardenMQTT
import WardenPolicy
import WardenSecurity
import WardenTLS

/// One MQTT connection on its event loop: feeds packets and timer ticks to the `ConnectionStateMachine` and
/// carries out its actions. Each packet type's work lives in its own extension file.
final class MQTTConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let services: ConnectionServices
    let peerAddress: IPAddress
    let usesTLS: Bool
    let presented: PresentedChain
    /// What the policy's conditions see of this connection: its source address and protocol, and from CONNECT
    /// its TLS version, client certificate and start.
    var policyContext: PolicyContext
    /// Its PUBLISHes per second, for `message-rate` conditions.
    var publishRate = PublishRate()
    /// The PUBLISH allows that stand while the authorizer's generation does (`authorizePublish`).
    var publishAllows = TopicDecisions(capacity: 16)
    /// Whether the tenant's decisions stand (`Authorizer.decisionsStand`), as of a generation.
    var publishAllowsStand: (generation: UInt64, stand: Bool)?
    /// Numbers the listener's connections in the log.
    let connectionID: UInt64
    /// The accepted CONNECT's ClientId and the audit reference of its authentication, in every later message of
    /// the connection (kept after the connection is released, for what is logged as it closes).
    var connectedClientID: String?
    var connectReference: String?
    var machine: ConnectionStateMachine
    private var reader: MQTTPacketReader
    /// PUBACKs and PUBRECs waiting for the commit of what their message changed, in arrival order.
    var acksAwaitingCommit = CircularBuffer<(ack: PublishAckPacket, ticket: UInt64)>(initialCapacity: 1)

    /// What a device published this sampling interval, while the Defender observes (nil otherwise).
    var activity: ActivityTally?
    /// How the connection is ending, once known (the socket closing without a DISCONNECT otherwise).
    private var ending: ConnectionEnding.Cause?

    /// Set once CONNECT is accepted.
    var connection: Accepted?
    /// Whether the connection waits, with reading stopped, for its session (`holdReading`).
    private var isHolding = false
    /// Whether the channel's outbound buffer is over its high-water mark: reading stops until it drains
    /// (`channelWritabilityChanged`).
    private var isWriteBlocked = false
    /// QoS 0 messages that changed the store: counted since the last commit waiter, and in batches awaiting
    /// their commit (`awaitCommit(ofUnacknowledged:)`).
    var unacknowledgedSinceWaiter = 0
    var unacknowledgedAwaitingCommit = 0
    /// Whether a provisioning request of this connection is being answered (`publishRegistration`).
    var isAnsweringRegistration = false
    /// Whether what waits for the store's commit is over its bound: reading stops until the store catches up
    /// (`updateCommitBacklog`).
    var isCommitBlocked = false
    /// Whether this connection still counts in `services.pending` (until CONNECT is accepted or it closes).
    private var isPending = true
    /// When the earliest armed tick fires (nil: none is due). Timers are never cancelled: NIO finds a cancelled
    /// task by a linear search of its loop's heap, and ten thousand connections closed at once spent a fifth of
    /// their time there (bench/reevaluate.sh). A tick that fires before this deadline, or after the connection
    /// ended, was superseded and does nothing; none is armed more than `tickHorizon` ahead, so such leftovers are
    /// few and short-lived.
    private var tickArmedFor: NIODeadline?
    /// What every tick of this connection calls (made with the first).
    private var tickTarget: TickTarget?
    static let tickHorizon = TimeAmount.seconds(30)
    /// Whether this handler saw TLS (if any) established; a WebSocket connection's was before it was added.
    private var transportReady: Bool

    /// What an accepted connection holds.
    struct Accepted {
        var identity: ClientIdentity
        let session: Session
        let sink: ChannelSink
        /// The CONNECT's username, for re-authentication.
        let username: String?
        var will: Broker.Will?
        /// Whether the Will goes out when the connection ends.
        var publishesWill = true

        var version: ProtocolVersion { sink.version }
    }

    init(
        services: ConnectionServices, peerAddress: IPAddress, usesTLS: Bool, presented: PresentedChain,
        overWebSocket: Bool = false
    ) {
        self.services = services
        self.presented = presented
        self.peerAddress = peerAddress
        self.policyContext = PolicyContext(peerAddress: peerAddress, protocolName: overWebSocket ? "mqtt-ws" : "mqtt")
        self.usesTLS = usesTLS
        self.transportReady = !usesTLS
        self.machine = ConnectionStateMachine(
            settings: services.listener.stateMachineSettings(broker: services.broker.configuration), now: .now())
        self.reader = MQTTPacketReader(limits: services.listener.decodingLimits)
        self.connectionID = services.connectionIDs.next()
    }

    /// Logs `message` with the connection's metadata (which connection, peer, client and authentication; what
    /// `metadata` names wins). Nothing is kept in a `Logger` of the connection's own: one with its metadata cost
    /// every connection 1 KiB, and setting a `StreamLogHandler`'s metadata renders all of it again, 8 % of a
    /// connect storm's CPU while nothing was logged (perf). Here nothing is built unless the level is logged.
    func log(
        _ level: Logger.Level, _ message: @autoclosure () -> Logger.Message,
        metadata: @autoclosure () -> Logger.Metadata = [:]
    ) {
        let logger = services.logger
        guard logger.logLevel <= level else { return }
        var connectionMetadata: Logger.Metadata = [
            "connection.id": .stringConvertible(connectionID), "peer.address": .stringConvertible(peerAddress),
        ]
        if let connectedClientID { connectionMetadata["client.id"] = .string(connectedClientID) }
        if let connectReference { connectionMetadata["decision.ref"] = .string(connectReference) }
        logger.log(level: level, message(), metadata: connectionMetadata.merging(metadata()) { $1 })
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { scheduleTick(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        scheduleTick(context)
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ServerEndedConnection { return release() }
        if case TLSUserEvent.handshakeCompleted = event {
            transportReady = true
            machine.handshakeCompleted(now: context.eventLoop.now)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// A client that sends without reading (PINGREQs, PUBLISHes answered by a PUBACK, PUBRELs answered by a
    /// PUBCOMP) would otherwise grow the answers queued for it without bound once its socket's buffers are full:
    /// nothing more is read from it until they drain. Deliveries are bounded on their own (QoS 0 is dropped
    /// while unwritable, QoS 1 and 2 wait in the session within its limits). A client that reads nothing for
    /// its keep-alive then times out, its PINGREQs unread.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        isWriteBlocked = !context.channel.isWritable
        if isWriteBlocked { services.broker.metrics.hit(.unreadClient) }
        updateReading(context)
        context.fireChannelWritabilityChanged()
    }

    /// Reads from the socket unless the connection waits for its session, for its client to read or for the store.
    func updateReading(_ context: ChannelHandlerContext) {
        try? context.channel.syncOptions?.setOption(
            ChannelOptions.autoRead, value: !isHolding && !isWriteBlocked && !isCommitBlocked)
    }

    /// Decodes and handles every whole packet the bytes complete, until the connection closes.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reader.append(unwrapInboundIn(data))
        handleBuffered(context: context)
    }

    /// Handles every whole packet read so far, until the connection closes or waits for its session.
    private func handleBuffered(context: ChannelHandlerContext) {
        let now = context.eventLoop.now
        do {
            while !machine.isClosed, !isHolding, let packet = try reader.next() {
                perform(machine.packetReceived(packet, now: now), context: context)
            }
        } catch {
            decodingFailed(error, context: context)
        }
    }

    /// Reads nothing more until `future` completes (before CONNACK: a session moving here from another node, or
    /// the connection here holding it catching up), at most `limit`, then calls `body` with whether it
    /// succeeded and handles what arrived meanwhile, unless the connection closed in between. The socket is not
    /// read meanwhile (what a client sends while it waits stays in the kernel's buffers, not the hub's), and the
    /// keep-alive counts from the wait's end.
    func holdReading(
        until future: EventLoopFuture<Void>, at limit: TimeAmount = MQTTConnectionHandler.maximumHold,
        context: ChannelHandlerContext,
        then body: @escaping (MQTTConnectionHandler, Bool) -> Void
    ) {
        isHolding = true
        updateReading(context)
        // The wait or its time limit, whichever comes first, ends it.
        let finish = { [self] (isReady: Bool) in
            guard isHolding else { return }
            isHolding = false
            guard !machine.isClosed else { return }
            machine.resumed(now: context.eventLoop.now)
            body(self, isReady)
            guard !machine.isClosed else { return }
            updateReading(context)
            handleBuffered(context: context)
            scheduleTick(context)
        }
        let timeout = context.eventLoop.assumeIsolated().scheduleTask(in: limit) { finish(false) }
        future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
            timeout.cancel()
            finish((try? result.get()) != nil)
        }
    }

    /// The longest a CONNECT waits for its session to move here (the holder's answer, its commit, the store's
    /// reads) before it is refused.
    static let maximumHold = TimeAmount.seconds(15)

    private func decodingFailed(_ error: MQTTDecodingError, context: ChannelHandlerContext) {
        log(.debug, "Refused a packet.", metadata: ["error.rule": "\(error.rule)"])
        if let limit = BrokerLimit(decoding: error) { services.broker.metrics.hit(limit) }
        if machine.version == nil, error.kind == .unsupportedProtocolVersion {
            // 3.1.1 form: a client of an unknown version reads the two-byte CONNACK best ([MQTT-3.1.2-2]).
            write(
                [
                    .connack(
                        ConnAckPacket(
                            sessionPresent: false, reasonCode: ConnAckPacket.ReturnCode.unacceptableProtocolVersion))
                ],
                version: .v311, context: context)
            machine.refused()
            end(context)
            return
        }
        perform(machine.decodingFailed(error), context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        log(.debug, "Connection error.", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        leavePending()
        context.fireChannelInactive()
    }

    /// The connection is over for the hub: nothing more it sends is read, its timers are void, its session is
    /// released and the Defender told. When the server ends it, at once (`end`, or `ServerEndedConnection` from
    /// the sink), while its socket waits for the client to close its side; otherwise when the socket closes.
    private func release() {
        tickArmedFor = nil
        machine.closed()
        if let connection {
            // Devices and services: an anonymous client's ClientId may be any device's id.
            if let observer = services.observer,
                connection.identity.deviceIdentity != nil || connection.identity.isService
            {
                let cause: ConnectionEnding.Cause =
                    switch connection.sink.closedByServer {
                    case .sessionTakenOver?: .sessionTakenOver
                    case .some: .serverClosed
                    case nil: ending ?? .transportClosed
                    }
                observer.ended(
                    ConnectionEnding(
                        tenantID: connection.identity.tenantID,
                        principal: connection.identity.principal(clientID: connection.session.key.clientID),
                        deviceID: connection.identity.deviceIdentity?.deviceID, peerAddress: peerAddress, cause: cause,
                        at: services.clock.now()))
            }
            let will = connection.publishesWill ? connection.will : nil
            services.broker.close(
                connection.session, sink: connection.sink, will: will,
                device: connection.identity.deviceIdentity?.sender,
                now: .now())
            log(.info, "Disconnected.")
            self.connection = nil
        }
    }

    /// The connection has authenticated or closed: it no longer counts against the pending limits, and its
    /// connect token goes back only when it authenticated.
    func leavePending(authenticated: Bool = false) {
        guard isPending else { return }
        isPending = false
        services.pending.release(peerAddress)
        if authenticated { services.limiter.refund(peerAddress) }
    }

    /// Carries out one action of the state machine.
    func perform(_ action: ConnectionStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none: break
        case .authenticate(let connect): handleConnect(connect, context: context)
        case .publish(let publish): handlePublish(publish, context: context)
        case .send(let packet): send(packet)
        case .acknowledgeAgain(let ack): acknowledgeInOrder(ack, ticket: nil, context: context)
        case .acknowledged(let ack): handleAcknowledgement(ack)
        case .subscribe(let subscribe): handleSubscribe(subscribe)
        case .unsubscribe(let unsubscribe): handleUnsubscribe(unsubscribe)
        case .reauthenticate(let auth): handleReauthentication(auth, context: context)
        case .clientDisconnected(let publishWill, let sessionExpiry):
            if let sessionExpiry, let session = connection?.session {
                let capped = min(sessionExpiry, services.broker.configuration.maximumSessionExpiry)
                session.withState { $0.expiryInterval = capped }
            }
            connection?.publishesWill = publishWill
            ending = .clientDisconnect
            end(context)
        case .close(let close):
            log(.debug, "Closing.", metadata: ["mqtt.reason": "\(close.reason)"])
            ending = Self.cause(close.reason)
            if let limit = BrokerLimit(closing: close.reason) { services.broker.metrics.hit(limit) }
            connection?.publishesWill = close.publishWill
            if close.sendDisconnect, let connection {
                var properties = Properties()
                properties.reasonString = close.reasonString
                write(
                    [.disconnect(ReasonPacket(reasonCode: close.reason, properties: properties))],
                    version: connection.version, context: context)
            }
            end(context)
        }
    }

    /// Sends packets through the session's sink (flushed once per loop turn).
    func send(_ packets: [MQTTPacket]) {
        connection?.sink.send(packets)
    }

    func send(_ packet: MQTTPacket) {
        connection?.sink.send(packet)
    }

    /// Writes and flushes directly, after what the sink holds: answers before a session exists (CONNACK
    /// refusals) and the DISCONNECT before a close. Within the client's Maximum Packet Size (the connection's, or
    /// `maximumPacketSize` before there is one); a packet that cannot fit is not sent.
    func write(
        _ packets: [MQTTPacket], version: ProtocolVersion, maximumPacketSize: Int = .max,
        context: ChannelHandlerContext
    ) {
        connection?.sink.writeUnwritten()
        let maximumPacketSize = connection?.sink.maximumPacketSize ?? maximumPacketSize
        var buffer = context.channel.allocator.buffer(capacity: 64)
        for packet in packets {
            // The server's own CONNACK, AUTH and DISCONNECT: short values that always encode.
            _ = try? MQTTEncoder.encode(packet, version: version, into: &buffer, maximumPacketSize: maximumPacketSize)
        }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func handleAcknowledgement(_ ack: PublishAckPacket) {
        guard let session = connection?.session else { return }
        let now = NIODeadline.now()
        if ack.kind == .pubrec, ack.reasonCode.isFailure {
            send(session.refuse(packetID: ack.packetID, now: now))
        } else if let packets = session.acknowledge(ack.kind, packetID: ack.packetID, now: now), !packets.isEmpty {
            send(packets)
        }
    }

    /// How a close the connection decided looks to the Defender: a keep-alive timeout, a refusal of the
    /// server's (authorization), or a broken protocol.
    static func cause(_ reason: ReasonCode) -> ConnectionEnding.Cause {
        switch reason {
        case .keepAliveTimeout: .keepAliveTimeout
        case .notAuthorized, .administrativeAction, .sessionTakenOver, .serverShuttingDown: .serverClosed
        default: .protocolError
        }
    }

    /// Tells the Defender's inventory where the device connected from, over what, and with which client.
    func report(_ device: DeviceIdentity, username: String?, context: ChannelHandlerContext) {
        guard let observer = services.observer else { return }
        let handler = usesTLS ? try? context.pipeline.syncOperations.handler(type: TLSServerHandler.self) : nil
        observer.connected(
            DeviceConnection(
                tenantID: device.tenantID, deviceID: device.deviceID, peerAddress: peerAddress,
                protocolName: policyContext.protocolName, method: device.method.rawValue,
                tlsVersion: usesTLS ? policyContext.tlsVersion : nil, cipherSuite: handler?.negotiatedCipherSuite,
                clientLibrary: username.flatMap(DeviceConnection.clientLibrary(inUsername:)),
                certificateNotAfter: policyContext.certificate?.notValidAfter, at: services.clock.now()))
    }

    /// Reports a device's activity to the Defender once per interval while the connection lives.
    func startSampling(of device: DeviceIdentity, context: ChannelHandlerContext) {
        // An interval of 0 turns behaviour learning off: nothing is counted per PUBLISH.
        guard let observer = services.observer, observer.sampleInterval > 0 else { return }
        activity = ActivityTally(since: context.eventLoop.now)
        // total: a configured number of seconds (at least 1), range-checked when read.
        let interval = TimeAmount.nanoseconds(Int64(observer.sampleInterval * 1_000_000_000))
        scheduleSample(of: device, every: interval, to: observer, context: context)
    }

    /// One sample after `interval`, then the next: a chain of single timers that ends with the connection
    /// (a repeated task would have to be cancelled, see `tickArmedFor`).
    private func scheduleSample(
        of device: DeviceIdentity, every interval: TimeAmount, to observer: any ConnectionObserver,
        context: ChannelHandlerContext
    ) {
        let target = NIOLoopBound(TimerTarget(handler: self, context: context), eventLoop: context.eventLoop)
        let clock = services.clock
        context.eventLoop.scheduleTask(in: interval) {
            guard let handler = target.value.handler, let context = target.value.context, handler.connection != nil,
                let sample = handler.activity?.sample(of: device, at: NIODeadline.now(), date: clock.now())
            else { return }
            observer.activity(sample)
            handler.scheduleSample(of: device, every: interval, to: observer, context: context)
        }
    }

    /// Ends the connection the server decided to end (after what it wrote), see `SocketCloser`. Until this
    /// handler has seen the TLS handshake complete (always, over WebSocket, whose pipeline has no `SocketCloser`)
    /// the ordinary close: during a handshake swift-nio-ssl closes at once.
    func end(_ context: ChannelHandlerContext) {
        if transportReady { SocketCloser.close(context.channel) } else { context.close(promise: nil) }
        release()
    }

    /// Arms a timer for the machine's next deadline (CONNECT, keep-alive, credential expiry), at most
    /// `tickHorizon` ahead, unless one armed before fires as early (it then arms the next).
    func scheduleTick(_ context: ChannelHandlerContext) {
        guard let next = machine.nextDeadline else { return }
        let deadline = min(next, context.eventLoop.now + Self.tickHorizon)
        if let armed = tickArmedFor, armed <= deadline { return }
        tickArmedFor = deadline
        let target = tickTarget ?? TickTarget(context)
        tickTarget = target
        _ = try? context.eventLoop.assumeIsolated().scheduleCallback(at: deadline, handler: target)
    }

    /// A tick fired: the machine's deadlines are checked, unless the tick was superseded.
    fileprivate func tickFired(_ context: ChannelHandlerContext) {
        guard let armed = tickArmedFor, armed <= context.eventLoop.now else { return }
        tickArmedFor = nil
        // Waiting for its session, the connection reads nothing: the wait's end arms the next tick.
        guard !isHolding else { return }
        // Waiting for the store, the hub reads nothing from the client: its silence is the hub's, not a
        // keep-alive timeout (its other deadlines, a credential's expiry, still count).
        if isCommitBlocked { machine.resumed(now: context.eventLoop.now) }
        let action = machine.tick(now: context.eventLoop.now)
        perform(action, context: context)
        if case .none = action { scheduleTick(context) }
    }
}

/// What a connection's ticks call: one object per connection, scheduled for every deadline without a promise or
/// a closure of its own. It holds the connection's context weakly (and finds the handler through it): a tick that
/// outlives its connection keeps nothing alive.
private final class TickTarget: NIOScheduledCallbackHandler {
    weak var context: ChannelHandlerContext?

    init(_ context: ChannelHandlerContext) {
        self.context = context
    }

    func handleScheduledCallback(eventLoop: some EventLoop) {
        guard let context, let handler = context.handler as? MQTTConnectionHandler else { return }
        handler.tickFired(context)
    }
}

/// What a connection's timer acts on, held weakly: a timer that outlives its connection keeps nothing alive.
private struct TimerTarget {
    weak var handler: MQTTConnectionHandler?
    weak var context: ChannelHandlerContext?
}
