import NIOCore
import WardenMQTT

/// Frames the byte stream into packets with Warden's decoder.
struct PacketDecoder: ByteToMessageDecoder {
    typealias InboundOut = MQTTPacket

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let packet = try MQTTDecoder.decode(&buffer, version: .v311, limits: DecodingLimits()) else {
            return .needMoreData
        }
        context.fireChannelRead(NIOAny(packet))
        return .continue
    }
}

extension MQTTPacket {
    /// The packet's 3.1.1 bytes.
    func encoded(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 128)
        MQTTEncoder.encode(self, version: .v311, into: &buffer)
        return buffer
    }
}

extension ConnectPacketFields {
    /// A 3.1.1 clean-session CONNECT with a 60-second keep-alive.
    func packet(allocator: ByteBufferAllocator) -> ByteBuffer {
        MQTTPacket.connect(
            ConnectPacket(
                protocolVersion: .v311, cleanStart: true, keepAlive: 60, clientID: clientID, username: username,
                password: password)
        ).encoded(allocator: allocator)
    }
}
