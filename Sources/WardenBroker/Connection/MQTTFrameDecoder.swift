import NIOCore
import WardenMQTT

/// The NIO glue for `MQTTDecoder` (STYLE R8.4): bytes in, packets out. It learns the protocol version from
/// CONNECT, so every later packet decodes as that version.
struct MQTTFrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = MQTTPacket

    let limits: DecodingLimits
    private var version: ProtocolVersion?

    init(limits: DecodingLimits) {
        self.limits = limits
    }

    mutating func decode(buffer: inout ByteBuffer) throws -> MQTTPacket? {
        let packet = try MQTTDecoder.decode(&buffer, version: version, limits: limits)
        if version == nil, case .connect(let connect) = packet { version = connect.protocolVersion }
        return packet
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> MQTTPacket? {
        try decode(buffer: &buffer)
    }
}
