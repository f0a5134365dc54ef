import ArgumentParser
import NIOCore
import WardenMQTT

/// Frames the byte stream into packets with Warden's decoder, as the connection's protocol version.
struct PacketDecoder: ByteToMessageDecoder {
    typealias InboundOut = MQTTPacket

    let version: ProtocolVersion

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let packet = try MQTTDecoder.decode(&buffer, version: version, limits: DecodingLimits()) else {
            return .needMoreData
        }
        context.fireChannelRead(NIOAny(packet))
        return .continue
    }
}

extension MQTTPacket {
    /// The packet's bytes in `version`; empty for a packet the wire cannot carry (the bench's topics and
    /// credentials are short, so none is).
    func encoded(_ version: ProtocolVersion, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 128)
        _ = try? MQTTEncoder.encode(self, version: version, into: &buffer)
        return buffer
    }
}

extension ConnectPacketFields {
    /// A clean-session CONNECT with a 60-second keep-alive (5.0: no session expiry).
    func packet(allocator: ByteBufferAllocator) -> ByteBuffer {
        MQTTPacket.connect(
            ConnectPacket(
                protocolVersion: version, cleanStart: true, keepAlive: 60, clientID: clientID, username: username,
                password: password)
        ).encoded(version, allocator: allocator)
    }
}

/// `--mqtt-version`: what the simulated clients speak.
enum MQTTVersionOption: String, ExpressibleByArgument, CaseIterable {
    case v311 = "3.1.1"
    case v5 = "5"

    var protocolVersion: ProtocolVersion { self == .v5 ? .v5 : .v311 }
}
