import NIOCore
import Synchronization
import WardenCore
import WardenMQTT

/// A connection as the broker sees it: packets from any thread, written on the channel's event loop, with
/// one flush per loop turn however many packets arrived in it.
final class ChannelSink: ConnectionSink {
    let identity: ClientIdentity
    let peerAddress: IPAddress
    private let channel: any Channel
    private let version: ProtocolVersion
    /// The largest packet the client accepts (5.0 Maximum Packet Size); larger ones are not sent ([MQTT-3.1.2-25]).
    private let maximumPacketSize: Int
    private let flushScheduled: NIOLoopBoundBox<Bool>
    /// Packets sent from other threads, waiting for this channel's event loop.
    private let pending = Mutex<(packets: [MQTTPacket], isScheduled: Bool)>(([], false))
    private let onDrop: @Sendable (OutboundFlow.DropReason) -> Void

    init(
        channel: any Channel, version: ProtocolVersion, maximumPacketSize: Int,
        identity: ClientIdentity, peerAddress: IPAddress,
        onDrop: @escaping @Sendable (OutboundFlow.DropReason) -> Void
    ) {
        self.identity = identity
        self.peerAddress = peerAddress
        self.channel = channel
        self.version = version
        self.maximumPacketSize = maximumPacketSize
        self.flushScheduled = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
        self.onDrop = onDrop
    }

    /// Sends `packets` in order after everything sent before. From another event loop they join a pending
    /// list that one task drains, so a busy subscriber costs one hop per loop turn rather than one per message.
    func send(_ packets: [MQTTPacket]) {
        if channel.eventLoop.inEventLoop {
            let earlier = takePending()
            write(earlier.isEmpty ? packets : earlier + packets)
            return
        }
        let schedule = pending.withLock { state in
            state.packets += packets
            defer { state.isScheduled = true }
            return !state.isScheduled
        }
        if schedule {
            channel.eventLoop.execute { self.write(self.takePending()) }
        }
    }

    private func takePending() -> [MQTTPacket] {
        pending.withLock { state in
            defer {
                state.packets = []
                state.isScheduled = false
            }
            return state.packets
        }
    }

    func close(_ reason: ReasonCode, reasonString: String?) {
        channel.eventLoop.execute {
            if self.version == .v5 {
                var properties = Properties()
                properties.reasonString = reasonString
                self.write([.disconnect(ReasonPacket(reasonCode: reason, properties: properties))])
            }
            self.channel.flush()
            self.channel.close(promise: nil)
        }
    }

    private func write(_ packets: [MQTTPacket]) {
        guard !packets.isEmpty, channel.isActive else { return }
        var buffer = channel.allocator.buffer(capacity: 128)
        for packet in packets {
            if case .publish(let publish) = packet, publish.qos == .atMostOnce, !channel.isWritable {
                // A client that does not read loses QoS 0 messages rather than growing our buffers.
                onDrop(.slowConsumer)
                continue
            }
            let start = buffer.writerIndex
            MQTTEncoder.encode(packet, version: version, into: &buffer)
            if buffer.writerIndex - start > maximumPacketSize {
                buffer.moveWriterIndex(to: start)
                onDrop(.tooLargeForClient)
            }
        }
        guard buffer.readableBytes > 0 else { return }
        channel.write(buffer, promise: nil)
        if !flushScheduled.value {
            flushScheduled.value = true
            channel.eventLoop.execute {
                self.flushScheduled.value = false
                self.channel.flush()
            }
        }
    }
}
