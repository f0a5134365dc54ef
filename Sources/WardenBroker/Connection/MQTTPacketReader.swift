import NIOCore
import WardenMQTT

/// The bytes a connection received, turned into packets by `MQTTDecoder` (STYLE R8.4). It learns the protocol
/// version from CONNECT, so every later packet decodes as that version.
///
/// The connection handler calls it directly rather than through a `ByteToMessageHandler` stage: a pipeline
/// stage wraps every packet in `NIOAny` and casts it back, runtime casts that cost ~5 % of the broker's CPU
/// under load (perf, bench/results.md).
struct MQTTPacketReader {
    let limits: DecodingLimits
    private(set) var version: ProtocolVersion?
    private var buffered = Self.empty

    init(limits: DecodingLimits) {
        self.limits = limits
    }

    /// Adds what the socket delivered. A fully consumed buffer is replaced rather than appended to, so that
    /// the payload slices earlier packets still hold are never copied.
    mutating func append(_ bytes: ByteBuffer) {
        if buffered.readableBytes == 0 {
            buffered = bytes
            return
        }
        if buffered.readerIndex > 16 * 1024 { buffered.discardReadBytes() }
        buffered.writeImmutableBuffer(bytes)
    }

    /// The next whole packet, or nil until more bytes arrive.
    mutating func next() throws(MQTTDecodingError) -> MQTTPacket? {
        guard let packet = try MQTTDecoder.decode(&buffered, version: version, limits: limits) else {
            // An idle connection holds no read buffer of its own (NIO's grow to 16 KiB under load).
            if buffered.readableBytes == 0 { buffered = Self.empty }
            return nil
        }
        if version == nil, case .connect(let connect) = packet { version = connect.protocolVersion }
        return packet
    }

    private static let empty = ByteBuffer()
}
