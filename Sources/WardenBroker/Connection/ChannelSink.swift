import NIOCore
import Synchronization
import WardenCore
import WardenMQTT
import WardenPolicy

/// A connection as the broker sees it: packets from any thread, encoded on the channel's event loop into buffers
/// of at most 8 KiB that are flushed once per loop turn, however many packets arrived in it.
final class ChannelSink: ConnectionSink {
    let identity: ClientIdentity
    let peerAddress: IPAddress
    let policyContext: PolicyContext
    private let channel: any Channel
    let version: ProtocolVersion
    /// The largest packet the client accepts (5.0 Maximum Packet Size); larger ones are not sent ([MQTT-3.1.2-25]).
    let maximumPacketSize: Int
    /// Packets encoded in this loop turn: the buffer not yet handed to the channel, and the bytes handed over
    /// before it. A few buffers per turn rather than a write per packet, which cost an allocation and NIO's
    /// bookkeeping each (perf, QoS 1 pairs).
    private let turn: NIOLoopBoundBox<Turn>
    /// Packets sent from other threads, waiting for this channel's event loop.
    private let pending = Mutex<(packets: [MQTTPacket], isScheduled: Bool)>(([], false))
    private let onDrop: @Sendable (OutboundFlow.DropReason) -> Void
    /// Why the server closed it (`close`: a revocation, a ban, a takeover), read on the loop when it ends.
    private let closedByServerBox: NIOLoopBoundBox<ReasonCode?>
    var closedByServer: ReasonCode? { closedByServerBox.value }

    /// QoS 0 messages are dropped once a turn's packets, handed over or not, hold this many bytes (the channel's
    /// high-water mark covers what was flushed).
    static let unflushedLimit = 256 * 1024
    /// The most a turn's buffer holds before it is handed over and another begins: buffers grow by doubling, and
    /// the next size (16 KiB) is `MemoryTuning`'s mmap threshold. A larger packet gets a buffer of its own size.
    static let bufferBytes = 8 * 1024

    /// About how many bytes `packet` encodes to: a PUBLISH's topic and payload, a few bytes for anything else.
    private static func estimatedSize(_ packet: MQTTPacket) -> Int {
        guard case .publish(let publish) = packet else { return 64 }
        return publish.topic.utf8.count + publish.payload.readableBytes + 64
    }

    init(
        channel: any Channel, version: ProtocolVersion, maximumPacketSize: Int,
        identity: ClientIdentity, peerAddress: IPAddress, policyContext: PolicyContext,
        onDrop: @escaping @Sendable (OutboundFlow.DropReason) -> Void
    ) {
        self.identity = identity
        self.peerAddress = peerAddress
        self.policyContext = policyContext
        self.channel = channel
        self.version = version
        self.maximumPacketSize = maximumPacketSize
        self.turn = NIOLoopBoundBox(Turn(), eventLoop: channel.eventLoop)
        self.closedByServerBox = NIOLoopBoundBox(nil, eventLoop: channel.eventLoop)
        self.onDrop = onDrop
    }

    /// Sends `packets` in order after everything sent before. From another event loop they join a pending
    /// list that one task drains, so a busy subscriber costs one hop per loop turn rather than one per message.
    func send(_ packets: [MQTTPacket]) {
        guard channel.eventLoop.inEventLoop else { return enqueue(packets) }
        encodePending()
        for packet in packets { encode(packet) }
    }

    /// The connection's first packets (CONNACK, then the resumed window), on its loop: ahead of what another
    /// loop routed to the session in the moment since it was attached, which must not precede the CONNACK.
    func start(_ packets: [MQTTPacket]) {
        for packet in packets { encode(packet) }
        encodePending()
    }

    func send(_ packet: MQTTPacket) {
        guard channel.eventLoop.inEventLoop else { return enqueue([packet]) }
        encodePending()
        encode(packet)
    }

    /// A task scheduled `catchUpTime` ahead: a loop runs tasks only after waiting for I/O once nothing else is
    /// due, so its sockets are read before it runs, unless the loop's tasks keep it busy that long. (A task
    /// queued for now would run in the turn the loop is in, perhaps begun before the bytes came.)
    func caughtUp() -> EventLoopFuture<Void>? {
        channel.eventLoop.scheduleTask(in: Self.catchUpTime) {}.futureResult
    }

    static let catchUpTime = TimeAmount.milliseconds(1)

    private func enqueue(_ packets: [MQTTPacket]) {
        let schedule = pending.withLock { state in
            state.packets += packets
            defer { state.isScheduled = true }
            return !state.isScheduled
        }
        if schedule {
            channel.eventLoop.execute { self.encodePending() }
        }
    }

    /// Encodes what other threads sent, ahead of anything sent on the loop now.
    private func encodePending() {
        let packets = pending.withLock { state in
            defer {
                state.packets = []
                state.isScheduled = false
            }
            return state.packets
        }
        for packet in packets { encode(packet) }
    }

    /// Hands the turn's packets to the channel now, before the handler writes directly (DISCONNECT) or closes.
    func writeUnwritten() {
        encodePending()
        turn.value.handedOver = 0
        guard let buffer = turn.value.buffer, buffer.readableBytes > 0 else { return }
        turn.value.buffer = nil
        channel.write(buffer, promise: nil)
    }

    func close(_ reason: ReasonCode, reasonString: String?) {
        channel.eventLoop.execute {
            self.closedByServerBox.value = reason
            // What other threads sent goes before the DISCONNECT: nothing may follow it ([MQTT-3.14.4-1]).
            self.encodePending()
            if self.version == .v5 {
                var properties = Properties()
                properties.reasonString = reasonString
                self.encode(.disconnect(ReasonPacket(reasonCode: reason, properties: properties)))
            }
            self.writeUnwritten()
            self.channel.flush()
            // The connection stops at once; its socket may wait a moment for the client to close its side.
            self.channel.pipeline.fireUserInboundEventTriggered(ServerEndedConnection())
            SocketCloser.close(self.channel)
        }
    }

    private func encode(_ packet: MQTTPacket) {
        guard channel.isActive else { return }
        // Taken out of the box while written, so that it is uniquely referenced and grows in place.
        var buffer = turn.value.buffer ?? channel.allocator.buffer(capacity: 256)
        turn.value.buffer = nil
        let handsOver = buffer.readableBytes > 0 && buffer.readableBytes + Self.estimatedSize(packet) > Self.bufferBytes
        if handsOver {
            // Handed to the channel now (flushed with the turn's others) rather than grown past the size glibc
            // serves from `mmap` (`MemoryTuning`): a map, its page faults and an unmap per turn were a third of
            // the server's CPU with 4 KiB payloads (perf).
            channel.write(buffer, promise: nil)
            turn.value.handedOver += buffer.readableBytes
            buffer = channel.allocator.buffer(capacity: Self.bufferBytes)
        }
        defer { turn.value.buffer = buffer }
        // Unflushed bytes count towards the channel's high-water mark only on plain TCP (TLS holds them until the
        // flush): the turn's own count bounds them on every listener.
        if case .publish(let publish) = packet, publish.qos == .atMostOnce,
            !channel.isWritable || turn.value.handedOver + buffer.readableBytes >= Self.unflushedLimit
        {
            // A client that does not read loses QoS 0 messages rather than growing our buffers.
            onDrop(.slowConsumer)
            return
        }
        let start = buffer.writerIndex
        do {
            guard
                try MQTTEncoder.encode(packet, version: version, into: &buffer, maximumPacketSize: maximumPacketSize)
            else {
                onDrop(.tooLargeForClient)
                return
            }
        } catch {
            // The broker refuses such messages where the hub builds them; this is the last line, not the plan.
            onDrop(.unencodable)
            return
        }
        if start == buffer.readerIndex, !handsOver {
            // The first packet of the turn: write and flush once the turn's other work is done.
            channel.eventLoop.execute {
                self.writeUnwritten()
                self.channel.flush()
            }
        }
    }
}

/// Told to the connection's handler when the server ends it from elsewhere (a revocation, a ban, a policy change,
/// a takeover): it stops reading and releases its session before the socket has closed.
struct ServerEndedConnection {}

/// What a connection's sink encoded in the current loop turn.
private struct Turn {
    var buffer: ByteBuffer?
    var handedOver = 0
}
