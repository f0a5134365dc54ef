import NIOCore

/// What the client accepts as a subject or queue group: 1…2048 bytes (a control line is at most 4 KiB), none of
/// them blank, CR, LF, DEL or NUL (they would split the line). Wildcards are the caller's business.
enum NATSSubject {
    static let maximumBytes = 2048

    static func isValid(_ text: String) -> Bool {
        (1...maximumBytes).contains(text.utf8.count) && !text.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F })
    }
}

/// What the client sends the server.
enum NATSCommand {
    case connect(json: String)
    case publish(subject: String, replyTo: String?, payload: ByteBuffer)
    case subscribe(subject: String, queue: String?, sid: UInt64)
    case unsubscribe(sid: UInt64)
    case ping
    case pong

    func write(into buffer: inout ByteBuffer) {
        switch self {
        case .connect(let json):
            buffer.writeString("CONNECT \(json)\r\n")
        case .publish(let subject, let replyTo, let payload):
            buffer.writeString("PUB \(subject) ")
            if let replyTo { buffer.writeString("\(replyTo) ") }
            buffer.writeString("\(payload.readableBytes)\r\n")
            buffer.writeImmutableBuffer(payload)
            buffer.writeString("\r\n")
        case .subscribe(let subject, let queue, let sid):
            buffer.writeString("SUB \(subject) ")
            if let queue { buffer.writeString("\(queue) ") }
            buffer.writeString("\(sid)\r\n")
        case .unsubscribe(let sid):
            buffer.writeString("UNSUB \(sid)\r\n")
        case .ping:
            buffer.writeString("PING\r\n")
        case .pong:
            buffer.writeString("PONG\r\n")
        }
    }
}
