public import NIOCore

/// A frame (§2.3): its kind, channel and what it carries.
public struct AMQPFrame: Sendable, Hashable {
    public enum Kind: UInt8, Sendable, Hashable {
        case amqp = 0
        case sasl = 1
    }

    public var kind: Kind
    public var channel: UInt16
    /// Nil for an empty frame (a heartbeat, §2.4.5).
    public var performative: AMQPPerformative?
    /// The bytes after the performative: a transfer's part of a message, empty otherwise.
    public var payload: ByteBuffer

    public init(
        kind: Kind = .amqp, channel: UInt16 = 0, performative: AMQPPerformative?, payload: ByteBuffer = ByteBuffer()
    ) {
        self.kind = kind
        self.channel = channel
        self.performative = performative
        self.payload = payload
    }

    /// The eight bytes before any frame: the size, the data offset (2 words), the kind and the channel.
    static let headerSize = 8
    /// The smallest maximum frame size a peer may announce (§2.7.1, `MIN-MAX-FRAME-SIZE`).
    public static let minimumMaximumSize = 512
}

/// The header that opens each layer of a connection (§2.2, §5.2.1, §5.3.2): `AMQP`, a protocol id and 1.0.0.
public enum AMQPProtocolHeader: UInt8, Sendable, Hashable {
    case amqp = 0
    case tls = 2
    case sasl = 3

    public static let size = 8

    /// Reads a header, nil until eight bytes are buffered. Bytes that are not an AMQP 1.0 header are refused;
    /// the server answers such a client with its own header and closes (§2.2).
    public static func decode(_ buffer: inout ByteBuffer) throws(AMQPDecodingError) -> AMQPProtocolHeader? {
        guard let bytes = buffer.getBytes(at: buffer.readerIndex, length: size) else { return nil }
        guard bytes[0...3].elementsEqual("AMQP".utf8), bytes[5...7].elementsEqual([1, 0, 0]),
            let header = AMQPProtocolHeader(rawValue: bytes[4])
        else { throw .framing("protocol_header.unsupported") }
        buffer.moveReaderIndex(forwardBy: size)
        return header
    }

    public func write(to buffer: inout ByteBuffer) {
        buffer.writeString("AMQP")
        buffer.writeBytes([rawValue, 1, 0, 0])
    }
}

/// Turns bytes into frames: nil, consuming nothing, until a whole frame is buffered. A frame larger than
/// `maximumFrameSize` is refused when its size is read, before its body is buffered.
public enum AMQPFrameDecoder {
    public static func decode(
        _ buffer: inout ByteBuffer, maximumFrameSize: Int, limits: AMQPDecodingLimits = .init()
    ) throws(AMQPDecodingError) -> AMQPFrame? {
        guard let size = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
            let dataOffset = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt8.self),
            let type = buffer.getInteger(at: buffer.readerIndex + 5, as: UInt8.self),
            let channel = buffer.getInteger(at: buffer.readerIndex + 6, as: UInt16.self)
        else { return nil }
        // total: widens a UInt32.
        let total = Int(size)
        guard total <= maximumFrameSize else { throw .framing("frame.too_large", limit: maximumFrameSize) }
        // total: widens a UInt8.
        let headerBytes = Int(dataOffset) * 4
        guard headerBytes >= AMQPFrame.headerSize, headerBytes <= total else { throw .framing("frame.bad_data_offset") }
        guard let kind = AMQPFrame.Kind(rawValue: type) else { throw .framing("frame.unknown_type") }
        guard buffer.readableBytes >= total else { return nil }
        buffer.moveReaderIndex(forwardBy: headerBytes)
        guard var body = buffer.readSlice(length: total - headerBytes) else { throw .framing("frame.truncated") }
        guard body.readableBytes > 0 else {
            // Only the AMQP layer has heartbeats (§2.4.5); a SASL frame carries a performative (§5.3.1).
            guard kind == .amqp else { throw .framing("sasl_frame.empty") }
            return AMQPFrame(kind: kind, channel: channel, performative: nil)
        }
        guard kind == .amqp || body.getInteger(at: body.readerIndex, as: UInt8.self) == 0x00 else {
            throw .framing("sasl_frame.not_described")
        }
        let value = try AMQPValueDecoder.decode(&body, limits: limits)
        let performative = try AMQPPerformative(value, sasl: kind == .sasl)
        if case .transfer = performative {
        } else {
            guard body.readableBytes == 0 else { throw .framing("frame.bytes_after_performative") }
        }
        return AMQPFrame(kind: kind, channel: channel, performative: performative, payload: body)
    }
}

extension ByteBuffer {
    /// Writes a frame: header, performative, payload.
    public mutating func writeAMQPFrame(_ frame: AMQPFrame) {
        let start = writerIndex
        writeInteger(UInt32(0))
        writeInteger(UInt8(2))
        writeInteger(frame.kind.rawValue)
        writeInteger(frame.channel)
        if let performative = frame.performative {
            writeAMQPValue(performative.value)
            writeImmutableBuffer(frame.payload)
        }
        // total: a frame this hub writes is bounded by the peer's maximum frame size, a UInt32.
        setInteger(UInt32(truncatingIfNeeded: writerIndex - start), at: start)
    }
}
