public import NIOCore

/// One message the server delivered for a subscription (`MSG`, or `HMSG` with its headers left out).
public struct NATSMessage: Sendable {
    public let subject: String
    /// The subscription it was delivered for.
    public let subscription: UInt64
    public let replyTo: String?
    public let payload: ByteBuffer

    public init(subject: String, subscription: UInt64, replyTo: String?, payload: ByteBuffer) {
        self.subject = subject
        self.subscription = subscription
        self.replyTo = replyTo
        self.payload = payload
    }
}

/// What a NATS server sends a client (the client protocol, docs.nats.io "Client Protocol").
public enum NATSServerOperation: Sendable {
    /// The server's INFO, its JSON body as sent.
    case info(ByteBuffer)
    case message(NATSMessage)
    case ping
    case pong
    case ok
    case error(String)
}

/// Why the server's stream cannot be read: the client closes the connection and connects again.
public struct NATSProtocolError: Error, Equatable, CustomStringConvertible {
    public let description: String

    init(_ description: String) { self.description = description }
}

/// Reads server operations off a byte stream without trapping on any input: a control line is at most
/// `maximumControlLine` bytes, a payload at most `maximumPayload`, numbers are read with total conversions.
public struct NATSOperationParser: Sendable {
    public var maximumControlLine: Int
    public var maximumPayload: Int

    public init(maximumControlLine: Int = 4096, maximumPayload: Int = 8 * 1024 * 1024) {
        self.maximumControlLine = maximumControlLine
        self.maximumPayload = maximumPayload
    }

    /// The next whole operation in `buffer`, consuming it; nil (consuming nothing) when more bytes are needed.
    public func next(_ buffer: inout ByteBuffer) throws(NATSProtocolError) -> NATSServerOperation? {
        let start = buffer.readerIndex
        guard let lineLength = Self.lineLength(in: buffer) else {
            if buffer.readableBytes > maximumControlLine { throw NATSProtocolError("a control line is too long") }
            return nil
        }
        guard lineLength <= maximumControlLine else { throw NATSProtocolError("a control line is too long") }
        guard let line = buffer.readSlice(length: lineLength) else { return nil }
        buffer.moveReaderIndex(forwardBy: 2)
        let (verb, arguments) = Self.split(line)
        switch verb {
        case "PING" where arguments.isEmpty: return .ping
        case "PONG" where arguments.isEmpty: return .pong
        case "+OK" where arguments.isEmpty: return .ok
        case "-ERR": return .error(Self.errorText(line))
        case "INFO":
            let view = line.readableBytesView
            guard let space = view.firstIndex(where: Self.isBlank),
                let body = view[space...].firstIndex(where: { !Self.isBlank($0) })
            else { throw NATSProtocolError("INFO without a body") }
            return .info(line.getSlice(at: body, length: view.endIndex - body) ?? ByteBuffer())
        case "MSG", "HMSG":
            let headerField = verb == "HMSG" ? 1 : 0
            guard arguments.count == 3 + headerField || arguments.count == 4 + headerField else {
                throw NATSProtocolError("\(verb) with \(arguments.count) fields")
            }
            // total: the String initializers return nil for anything out of range.
            guard let sid = UInt64(arguments[1]), let total = Int(arguments[arguments.count - 1]), total >= 0 else {
                throw NATSProtocolError("\(verb) with a malformed number")
            }
            // total: nil (then -1, refused) for anything out of range.
            let headerBytes = headerField == 0 ? 0 : Int(arguments[arguments.count - 2]) ?? -1
            guard headerBytes >= 0, headerBytes <= total else {
                throw NATSProtocolError("\(verb) with malformed header size")
            }
            guard total <= maximumPayload else { throw NATSProtocolError("a message exceeds the payload limit") }
            // Bounded above, so the sum cannot overflow.
            guard buffer.readableBytes >= total + 2 else {
                buffer.moveReaderIndex(to: start)
                return nil
            }
            buffer.moveReaderIndex(forwardBy: headerBytes)
            guard let payload = buffer.readSlice(length: total - headerBytes),
                buffer.readInteger(as: UInt16.self) == 0x0D0A
            else { throw NATSProtocolError("\(verb) payload not followed by CRLF") }
            let hasReply = arguments.count == 4 + headerField
            return .message(
                NATSMessage(
                    subject: arguments[0], subscription: sid, replyTo: hasReply ? arguments[2] : nil, payload: payload))
        default:
            throw NATSProtocolError("an unknown operation")
        }
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// Bytes before the first CRLF, if the buffer holds one.
    private static func lineLength(in buffer: ByteBuffer) -> Int? {
        let view = buffer.readableBytesView
        var index = view.startIndex
        while let cr = view[index...].firstIndex(of: 0x0D) {
            let next = view.index(after: cr)
            guard next < view.endIndex else { return nil }
            if view[next] == 0x0A { return cr - view.startIndex }
            index = next
        }
        return nil
    }

    /// The verb, upper-cased (operations are case-insensitive), and the blank-separated fields after it.
    private static func split(_ line: ByteBuffer) -> (verb: String, arguments: [String]) {
        let fields = line.readableBytesView.split(whereSeparator: isBlank).map { String(decoding: $0, as: UTF8.self) }
        guard let verb = fields.first else { return ("", []) }
        return (verb.uppercased(), Array(fields.dropFirst()))
    }

    /// `-ERR 'text'`'s text, without the quotes, printable ASCII only, at most 256 characters.
    private static func errorText(_ line: ByteBuffer) -> String {
        let text = line.readableBytesView.dropFirst(4).filter { $0 >= 0x20 && $0 < 0x7F && $0 != 0x27 }
            .drop { $0 == 0x20 }
        return String(decoding: text.prefix(256), as: UTF8.self)
    }
}
