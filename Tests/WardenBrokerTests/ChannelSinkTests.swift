import NIOCore
import NIOEmbedded
import Synchronization
import Testing
import WardenCore
import WardenMQTT
import WardenPolicy

@testable import WardenBroker

/// What one loop turn encodes for a connection.
struct ChannelSinkTests {
    /// A client that does not read loses QoS 0 messages once a turn's packets hold 256 KiB, whether or not they
    /// were handed to the channel: a TLS handler keeps unflushed bytes outside the channel's high-water mark.
    @Test func aTurnsQoS0MessagesAreBoundedBeforeTheFlush() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let address = try #require(IPAddress("127.0.0.1"))
        let drops = Mutex<[OutboundFlow.DropReason]>([])
        let sink = ChannelSink(
            channel: channel, version: .v311, maximumPacketSize: .max,
            identity: .anonymous(.defaultTenant, .publishSubscribe), peerAddress: address,
            policyContext: PolicyContext(peerAddress: address, protocolName: "mqtt"),
            onDrop: { reason in drops.withLock { $0.append(reason) } })
        let publish = PublishPacket(qos: .atMostOnce, topic: "t", payload: ByteBuffer(repeating: 1, count: 8 * 1024))
        // 64 packets of 8 KiB in one turn: nothing is flushed until the loop runs the turn's flush.
        for _ in 0..<64 { sink.send(.publish(publish)) }
        // Packets go out until the turn holds 256 KiB: the one that reaches it is the last.
        var one = ByteBuffer()
        try MQTTEncoder.encode(.publish(publish), version: .v311, into: &one)
        let sent = (ChannelSink.unflushedLimit + one.readableBytes - 1) / one.readableBytes
        let dropped = drops.withLock { $0 }
        #expect(dropped.count == 64 - sent && dropped.allSatisfy { $0 == .slowConsumer })
        loop.run()
        var written = 0
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { written += buffer.readableBytes }
        #expect(written == sent * one.readableBytes)
    }
}
