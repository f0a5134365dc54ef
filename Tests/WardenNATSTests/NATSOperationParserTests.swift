import NIOCore
import Testing

@testable import WardenNATS

struct NATSOperationParserTests {
    private func operations(_ text: String, parser: NATSOperationParser = NATSOperationParser()) throws
        -> [NATSServerOperation]
    {
        var buffer = ByteBuffer(string: text)
        var found: [NATSServerOperation] = []
        while let operation = try parser.next(&buffer) { found.append(operation) }
        return found
    }

    private func describe(_ operation: NATSServerOperation) -> String {
        switch operation {
        case .info(let body): "info \(String(buffer: body))"
        case .message(let message):
            "msg \(message.subject) \(message.subscription) \(message.replyTo ?? "-") \(String(buffer: message.payload))"
        case .ping: "ping"
        case .pong: "pong"
        case .ok: "ok"
        case .error(let text): "error \(text)"
        }
    }

    @Test(arguments: [
        ("PING\r\n", "ping"),
        ("pong\r\n", "pong"),
        ("+OK\r\n", "ok"),
        ("-ERR 'Authorization Violation'\r\n", "error Authorization Violation"),
        ("INFO {\"max_payload\":1048576}\r\n", "info {\"max_payload\":1048576}"),
        ("MSG a.b 7 5\r\nhello\r\n", "msg a.b 7 - hello"),
        ("msg\ta.b\t7\t_INBOX.x\t0\r\n\r\n", "msg a.b 7 _INBOX.x "),
        ("HMSG a 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", "msg a 1 - hi"),
        ("MSG a 1 2\r\n\r\n\r\n", "msg a 1 - \r\n"),
    ])
    func readsEachOperation(text: String, expected: String) throws {
        let found = try operations(text)
        #expect(found.map(describe) == [expected])
    }

    /// Whatever the reads' boundaries, the same operations come out and nothing is consumed early.
    @Test func readsOperationsSplitAnywhere() throws {
        let stream = "INFO {}\r\nMSG s 1 3\r\nabc\r\nPING\r\nMSG s 2 r 0\r\n\r\n"
        let whole = try operations(stream).map(describe)
        var buffer = ByteBuffer()
        var found: [String] = []
        for byte in stream.utf8 {
            buffer.writeInteger(byte)
            while let operation = try NATSOperationParser().next(&buffer) { found.append(describe(operation)) }
        }
        #expect(found == whole)
        #expect(whole.count == 4)
    }

    @Test(arguments: [
        "HELLO\r\n",
        "PING extra\r\n",
        "MSG a 1\r\n",
        "MSG a b c d e f\r\n",
        "MSG a x 3\r\nabc\r\n",
        "MSG a 1 -3\r\nabc\r\n",
        "MSG a 1 99999999999999999999999\r\n",
        "MSG a 18446744073709551616 1\r\nx\r\n",
        "MSG a 1 3\r\nabcde\r\n",
        "HMSG a 1 5 3\r\nabc\r\n",
        "HMSG a 1 -1 3\r\nabc\r\n",
        "INFO\r\n",
        "\r\n",
    ])
    func refusesMalformedOperations(text: String) {
        #expect(throws: NATSProtocolError.self) { _ = try operations(text) }
    }

    @Test func refusesAnOverlongControlLineBeforeItsEnd() {
        let parser = NATSOperationParser(maximumControlLine: 16, maximumPayload: 8)
        #expect(throws: NATSProtocolError.self) {
            _ = try operations(String(repeating: "A", count: 17), parser: parser)
        }
        #expect(throws: NATSProtocolError.self) { _ = try operations("MSG a 1 9\r\n", parser: parser) }
        #expect((try? operations("MSG a 1 8\r\n", parser: parser))?.isEmpty == true)
    }

    @Test func errorTextIsPrintableAndBounded() throws {
        let text = "-ERR '\u{1B}[31m" + String(repeating: "x", count: 1000) + "'\r\n"
        guard case .error(let message) = try operations(text).first else {
            Issue.record("no error")
            return
        }
        #expect(message.count == 256)
        #expect(message.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F })
    }

    @Test func subjectsThatWouldSplitTheLineAreRefused() {
        #expect(NATSSubject.isValid("warden.events"))
        #expect(NATSSubject.isValid(String(repeating: "a", count: 2048)))
        for text in ["", "a b", "a\r\nPUB x 1", "a\tb", "a\u{0}", "a\u{7F}", String(repeating: "a", count: 2049)] {
            #expect(!NATSSubject.isValid(text))
        }
    }
}
